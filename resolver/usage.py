"""Usage as the rest of the node reads it: resolutions per tenant and day.

``resolver.counters`` writes these rows in batches; everyone else (the tenant console,
the staff console, billing and reports later) reads them through this module and never
queries ``resolution_counts`` itself, so the storage can change behind one interface.
"""

from __future__ import annotations

from datetime import date

from core.tenancy import tenant_transaction
from resolver.tables import ResolutionCount


async def resolutions_by_day(tenant_id: int, since: date) -> dict[date, int]:
    """The tenant's resolutions on each day from ``since`` (inclusive); days without
    any are absent."""
    async with tenant_transaction(tenant_id, write=False):
        rows = (
            await ResolutionCount.select(ResolutionCount.day, ResolutionCount.resolutions)
            .where((ResolutionCount.tenant_id == tenant_id) & (ResolutionCount.day >= since))
            .run()
        )
    return {r["day"]: int(r["resolutions"]) for r in rows}


async def resolutions_since(tenant_id: int, since: date) -> int:
    """The tenant's total resolutions from ``since`` (inclusive)."""
    return sum((await resolutions_by_day(tenant_id, since)).values())
