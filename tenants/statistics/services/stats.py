"""Statistics by enterprise and by industry, per Asia/Shanghai day: registrations,
queries (resolutions asked), successful answers.

Every figure comes from ``core.usage`` (the one usage source; billing reads the same
rows), so what the consoles show, what billing charges and what the top-level node is
told agree. Industry is the first GB/T 4754 division the enterprise chose at signup
(``core.industries``); a tenant made from the command line has none ("").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta

from core import usage
from core.industries import divisions
from tenants.accounts.services.tenants import list_tenants
from tenants.onboarding.tables import Application

EPOCH = date(2000, 1, 1)
# A statistics page may ask for at most this many days (core/limits style bound).
MAX_DAYS = 366


@dataclass(frozen=True, slots=True)
class DayRow:
    day: date
    tenant_id: int
    prefix: str
    name: str
    industry: str
    registrations: int
    queries: int
    successes: int

    def as_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["day"] = self.day.isoformat()
        return out


@dataclass(frozen=True, slots=True)
class IndustryRow:
    day: date
    industry: str
    industry_name: str
    registrations: int
    queries: int
    successes: int


def days_between(first: date, last: date) -> list[date]:
    if last < first:
        first, last = last, first
    span = min((last - first).days, MAX_DAYS - 1)
    return [first + timedelta(days=n) for n in range(span + 1)]


async def tenant_industries() -> dict[int, str]:
    """tenant id -> its first chosen division code (approved applications)."""
    rows = await (
        Application.select(Application.approved_tenant_id, Application.industries)
        .where(Application.approved_tenant_id.is_not_null())
        .run()
    )
    out: dict[int, str] = {}
    for r in rows:
        codes = [c.strip() for c in (r["industries"] or "").split(",") if c.strip()]
        out[int(r["approved_tenant_id"])] = codes[0] if codes else ""
    return out


async def by_enterprise(first: date, last: date, *, path: str = "staff") -> list[DayRow]:
    """One row per tenant per day with any usage, ``first``..``last`` (bounded)."""
    days = days_between(first, last)
    per_tenant = await usage.node_by_day(days[0], days[-1], path=path)
    tenants = {t.id: t for t in await list_tenants()}
    industries = await tenant_industries()
    rows = []
    for tenant_id, per_day in per_tenant.items():
        t = tenants.get(tenant_id)
        for day, use in per_day.items():
            rows.append(
                DayRow(
                    day, tenant_id, t.prefix if t else "?", t.name if t else "?",
                    industries.get(tenant_id, ""), use.registrations,
                    use.resolutions + use.not_found, use.resolutions,
                )
            )  # fmt: skip
    return sorted(rows, key=lambda r: (r.day, r.prefix))


def by_industry(rows: list[DayRow]) -> list[IndustryRow]:
    names = {d.code: d.name_zh for d in divisions()}
    sums: dict[tuple[date, str], list[int]] = {}
    for r in rows:
        s = sums.setdefault((r.day, r.industry), [0, 0, 0])
        s[0] += r.registrations
        s[1] += r.queries
        s[2] += r.successes
    return [
        IndustryRow(day, code, names.get(code, "-"), *s) for (day, code), s in sorted(sums.items())
    ]


async def for_tenant(tenant_id: int, first: date, last: date) -> list[DayRow]:
    """One tenant's days, every day of the range (zeros included), for its console."""
    days = days_between(first, last)
    per_day = await usage.tenant_by_day(tenant_id, days[0], days[-1])
    zero = usage.Usage()
    return [
        DayRow(d, tenant_id, "", "", "", (u := per_day.get(d, zero)).registrations,
               u.resolutions + u.not_found, u.resolutions)
        for d in days
    ]  # fmt: skip


async def registrations_total(last: date, *, path: str = "maintenance") -> dict[int, int]:
    """Every tenant's registrations up to and including ``last``."""
    per_tenant = await usage.node_by_day(EPOCH, last, path=path)
    return {t: sum(u.registrations for u in days.values()) for t, days in per_tenant.items()}
