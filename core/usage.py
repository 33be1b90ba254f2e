"""Usage, one source: registrations and resolutions per tenant per hour.

Billing, the tenant and staff consoles, and the statistics sent to the top-level node all
read usage here, and nothing else counts it, so their totals cannot disagree.

Two writers append to one ledger (``core.tables.UsageEntry``, ``usage_ledger``):

- ``record_registrations`` is called by the write path inside the write's own transaction
  with the number of identifiers the transaction created (a single PUT: 1; an SNMS batch
  or a bulk-job chunk: the identifiers it created). Updates, deletes and refused
  duplicates are not creations and are not recorded. Its row commits or rolls back with
  the identifiers, so a registration is counted exactly once whatever is retried.
- ``record_window`` is the resolution counters' flush (resolver/counters.py): one row per
  tenant per flush window, under the window's id. Sending the same window again (a retry
  after a commit whose answer was lost) inserts nothing, so a flush never counts twice.

``hour`` is the start of the UTC hour the usage fell in. Asia/Shanghai is UTC+8 all year,
so its hours are the same hours and its days and months are whole sets of them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from piccolo.query.functions.aggregate import Sum
from piccolo.querystring import QueryString

from core import db
from core.tables import UsageEntry
from core.tenancy import cross_tenant, tenant_transaction

SHANGHAI = ZoneInfo("Asia/Shanghai")
REGISTRATION_SOURCE = "reg:"
RESOLUTION_SOURCE = "res:"

# The clock usage is stamped with; tests replace it (set_clock) instead of sleeping.
_clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def set_clock(clock: Callable[[], datetime] | None) -> None:
    """Use ``clock`` for ``now()`` (None: the real clock again)."""
    global _clock
    _clock = clock or (lambda: datetime.now(UTC))


def now() -> datetime:
    return _clock()


@dataclass(frozen=True, slots=True)
class Usage:
    registrations: int = 0
    resolutions: int = 0  # successful (rc 1): what is billed
    not_found: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.registrations + other.registrations,
            self.resolutions + other.resolutions,
            self.not_found + other.not_found,
        )

    def as_dict(self) -> dict[str, int]:
        return {
            "registrations": self.registrations,
            "resolutions": self.resolutions,
            "not_found": self.not_found,
        }


# --- time ------------------------------------------------------------------------------


def hour_of(moment: datetime) -> datetime:
    """The start of the UTC hour ``moment`` falls in."""
    if moment.tzinfo is None:
        raise ValueError("usage times are timezone-aware")
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def shanghai_day(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


def month_of(moment: datetime) -> str:
    """The Asia/Shanghai calendar month of ``moment``, as ``YYYY-MM``."""
    return moment.astimezone(SHANGHAI).strftime("%Y-%m")


def parse_month(month: str) -> tuple[int, int]:
    """``YYYY-MM`` as (year, month); ValueError for anything else."""
    if len(month) != 7 or month[4] != "-" or not (month[:4] + month[5:]).isascii():
        raise ValueError(f"not a month (YYYY-MM): {month!r}")
    year, mon = int(month[:4]), int(month[5:])
    if not (1 <= mon <= 12 and 2000 <= year <= 9999):
        raise ValueError(f"not a month (YYYY-MM): {month!r}")
    return year, mon


def month_days(month: str) -> list[date]:
    """The days of an Asia/Shanghai calendar month."""
    year, mon = parse_month(month)
    first = date(year, mon, 1)
    nxt = date(year + mon // 12, mon % 12 + 1, 1)
    return [first + timedelta(days=n) for n in range((nxt - first).days)]


def day_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """UTC instants [start, end) covering Asia/Shanghai days ``first``..``last``."""
    start = datetime(first.year, first.month, first.day, tzinfo=SHANGHAI)
    end = datetime(last.year, last.month, last.day, tzinfo=SHANGHAI) + timedelta(days=1)
    return start.astimezone(UTC), end.astimezone(UTC)


def month_bounds(month: str) -> tuple[datetime, datetime]:
    days = month_days(month)
    return day_bounds(days[0], days[-1])


# --- writing ---------------------------------------------------------------------------


async def record_registrations(tenant_id: int, count: int, *, at: datetime | None = None) -> None:
    """Count ``count`` identifiers created by the caller's write transaction (joined)."""
    if count <= 0:
        return
    stamp = at or now()
    row = UsageEntry(
        tenant_id=tenant_id,
        hour=hour_of(stamp),
        source=REGISTRATION_SOURCE + uuid.uuid4().hex,
        registrations=count,
        created_at=stamp,
    )
    async with tenant_transaction(tenant_id):
        await UsageEntry.insert(row).run()


async def record_window(
    window_id: str, counts: dict[int, tuple[int, int]], *, hour: datetime
) -> None:
    """Append one flush window of resolution counts: tenant -> (resolved, not found).

    Idempotent per window: a window already recorded for a tenant is left as it is.
    """
    if not counts:
        return
    source = RESOLUTION_SOURCE + window_id
    stamp = now()
    async with cross_tenant("maintenance", write=True):
        for tenant_id, (resolved, missing) in sorted(counts.items()):
            await db.engine().run_querystring(
                QueryString(
                    "INSERT INTO usage_ledger (tenant_id, hour, source, registrations, "
                    "resolutions, not_found, created_at) VALUES ({}, {}, {}, 0, {}, {}, {}) "
                    "ON CONFLICT (tenant_id, source) DO NOTHING",
                    tenant_id,
                    hour_of(hour),
                    source,
                    resolved,
                    missing,
                    stamp,
                )
            )


# --- reading ---------------------------------------------------------------------------


def _as_utc(value: Any) -> datetime:
    if isinstance(value, str):  # SQLite may hand an aggregate's group key back as text
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def _hours(where: Any, by_tenant: bool) -> list[dict[str, Any]]:
    columns: list[Any] = [UsageEntry.hour]
    if by_tenant:
        columns.insert(0, UsageEntry.tenant_id)
    return list(
        await UsageEntry.select(
            *columns,
            Sum(UsageEntry.registrations, alias="registrations"),
            Sum(UsageEntry.resolutions, alias="resolutions"),
            Sum(UsageEntry.not_found, alias="not_found"),
        )
        .where(where)
        .group_by(*columns)
        .run()
    )


def _usage(row: dict[str, Any]) -> Usage:
    return Usage(
        int(row["registrations"] or 0), int(row["resolutions"] or 0), int(row["not_found"] or 0)
    )


async def tenant_by_hour(tenant_id: int, start: datetime, end: datetime) -> dict[datetime, Usage]:
    """The tenant's usage in each UTC hour of [start, end); hours without any are absent."""
    where = (
        (UsageEntry.tenant_id == tenant_id) & (UsageEntry.hour >= start) & (UsageEntry.hour < end)
    )
    async with tenant_transaction(tenant_id, write=False):
        rows = await _hours(where, by_tenant=False)
    out: dict[datetime, Usage] = {}
    for r in rows:
        hour = _as_utc(r["hour"])
        out[hour] = out.get(hour, Usage()) + _usage(r)
    return out


def _by_day(hours: Iterable[tuple[datetime, Usage]]) -> dict[date, Usage]:
    out: dict[date, Usage] = {}
    for hour, use in hours:
        day = shanghai_day(hour)
        out[day] = out.get(day, Usage()) + use
    return out


async def tenant_by_day(tenant_id: int, first: date, last: date) -> dict[date, Usage]:
    """The tenant's usage on each Asia/Shanghai day ``first``..``last`` (days with any)."""
    start, end = day_bounds(first, last)
    return _by_day((await tenant_by_hour(tenant_id, start, end)).items())


async def tenant_month(tenant_id: int, month: str) -> Usage:
    """The tenant's usage in an Asia/Shanghai calendar month (``YYYY-MM``)."""
    start, end = month_bounds(month)
    return sum((await tenant_by_hour(tenant_id, start, end)).values(), Usage())


async def node_by_hour(
    start: datetime, end: datetime, *, path: str = "maintenance"
) -> dict[int, dict[datetime, Usage]]:
    """Every tenant's usage per UTC hour of [start, end): tenant -> hour -> usage.

    ``path`` is the cross-tenant path the caller reads on (core/tenancy.py).
    """
    where = (UsageEntry.hour >= start) & (UsageEntry.hour < end)
    async with cross_tenant(path):
        rows = await _hours(where, by_tenant=True)
    out: dict[int, dict[datetime, Usage]] = {}
    for r in rows:
        hours = out.setdefault(int(r["tenant_id"]), {})
        hour = _as_utc(r["hour"])
        hours[hour] = hours.get(hour, Usage()) + _usage(r)
    return out


async def node_by_day(
    first: date, last: date, *, path: str = "maintenance"
) -> dict[int, dict[date, Usage]]:
    """Every tenant's usage per Asia/Shanghai day: tenant -> day -> usage."""
    start, end = day_bounds(first, last)
    per_tenant = await node_by_hour(start, end, path=path)
    return {t: _by_day(hours.items()) for t, hours in per_tenant.items()}


async def node_month(month: str, *, path: str = "maintenance") -> dict[int, Usage]:
    """Every tenant's usage in an Asia/Shanghai month: tenant -> usage (tenants with any)."""
    start, end = month_bounds(month)
    per_tenant = await node_by_hour(start, end, path=path)
    return {t: sum(hours.values(), Usage()) for t, hours in per_tenant.items()}
