"""The usage report a tenant, the CLI and the API read: a month's usage and charges."""

from __future__ import annotations

from typing import Any

from billing.metering.service import month_bill
from core import usage
from core.errors import InvalidValue
from tenants.accounts.services.tenants import get_by_prefix


def checked_month(month: str | None) -> str:
    """``YYYY-MM`` as given, or this Asia/Shanghai month; InvalidValue for anything else."""
    if not month:
        return usage.month_of(usage.now())
    try:
        usage.parse_month(month)
    except ValueError:
        raise InvalidValue(f"month: YYYY-MM, got {month[:20]!r}", field="month") from None
    return month


async def usage_report(tenant_id: int, month: str | None = None) -> dict[str, Any]:
    bill = await month_bill(tenant_id, checked_month(month))
    return bill.as_dict()


async def usage_for_prefix(prefix: str, month: str | None = None) -> dict[str, Any]:
    tenant = await get_by_prefix(prefix)
    return {"prefix": tenant.prefix, **await usage_report(tenant.id, month)}


async def daily_usage(tenant_id: int, month: str | None = None) -> list[dict[str, Any]]:
    """Each day of the month with its registrations and resolutions (0 when none)."""
    days = usage.month_days(checked_month(month))
    got = await usage.tenant_by_day(tenant_id, days[0], days[-1])
    return [{"day": d.isoformat(), **got.get(d, usage.Usage()).as_dict()} for d in days]
