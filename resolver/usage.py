"""Resolutions per tenant and day, as the consoles read them (a view of core/usage.py).

The one source of usage is ``core.usage`` (the ledger the counters flush into and the
write path appends to); this keeps the resolver-side callers' shape. Days are
Asia/Shanghai days.
"""

from __future__ import annotations

from datetime import date

from core import usage


async def resolutions_by_day(tenant_id: int, since: date) -> dict[date, int]:
    """The tenant's resolutions on each day from ``since`` (inclusive) to today; days
    without any are absent."""
    today = usage.shanghai_day(usage.now())
    days = await usage.tenant_by_day(tenant_id, since, max(since, today))
    return {d: u.resolutions for d, u in days.items() if u.resolutions}


async def resolutions_since(tenant_id: int, since: date) -> int:
    """The tenant's total resolutions from ``since`` (inclusive)."""
    return sum((await resolutions_by_day(tenant_id, since)).values())
