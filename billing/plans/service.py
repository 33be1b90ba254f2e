"""Plans and who is on which, from which day (Asia/Shanghai days).

A tenant is on one plan at a time: its subscription rows say from which day each plan
applies, the latest on or before a day wins. A tenant without a row is on the node's
default plan (``IDNEST_BILLING_DEFAULT_PLAN``, a plan code; empty: no plan, nothing billed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from billing.money import MAX_FEN
from billing.plans.tables import Plan, Subscription
from core import audit, usage
from core.errors import Conflict, InvalidValue, NotFound
from core.settings import get_settings
from core.tenancy import cross_tenant, tenant_transaction
from tenants.accounts.services.tenants import get_by_prefix

_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_COUNT = 10**12  # included amounts and caps: more than any node will see in a month


@dataclass(frozen=True, slots=True)
class PlanInfo:
    id: int
    code: str
    name: str
    currency: str
    monthly_fee_fen: int
    included_registrations: int
    included_resolutions: int
    registration_price_fen: int
    resolution_price_per_1000_fen: int
    registration_cap: int | None
    active: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "currency": self.currency,
            "monthly_fee_fen": self.monthly_fee_fen,
            "included_registrations": self.included_registrations,
            "included_resolutions": self.included_resolutions,
            "registration_price_fen": self.registration_price_fen,
            "resolution_price_per_1000_fen": self.resolution_price_per_1000_fen,
            "registration_cap": self.registration_cap,
            "active": self.active,
        }


def _info(row: dict[str, Any]) -> PlanInfo:
    return PlanInfo(
        id=row["id"],
        code=row["code"],
        name=row["name"],
        currency=row["currency"],
        monthly_fee_fen=int(row["monthly_fee_fen"]),
        included_registrations=int(row["included_registrations"]),
        included_resolutions=int(row["included_resolutions"]),
        registration_price_fen=int(row["registration_price_fen"]),
        resolution_price_per_1000_fen=int(row["resolution_price_per_1000_fen"]),
        registration_cap=None if row["registration_cap"] is None else int(row["registration_cap"]),
        active=bool(row["active"]),
    )


def _check_count(value: int | None, field: str) -> None:
    if value is not None and not 0 <= value <= MAX_COUNT:
        raise InvalidValue(f"{field}: must be between 0 and {MAX_COUNT}", field=field)


async def create_plan(
    code: str,
    name: str,
    *,
    monthly_fee_fen: int,
    included_registrations: int,
    included_resolutions: int,
    registration_price_fen: int,
    resolution_price_per_1000_fen: int,
    registration_cap: int | None = None,
    currency: str = "CNY",
    actor: str,
) -> PlanInfo:
    """A new plan. Plans are not edited once tenants may be on them: make a new one."""
    if not _CODE.match(code or ""):
        raise InvalidValue("code: lower-case letters, digits, - and _ (1-64)", field="code")
    if not (name or "").strip() or len(name) > 255:
        raise InvalidValue("name: 1 to 255 characters", field="name")
    if not re.fullmatch(r"[A-Z]{3}", currency or ""):
        raise InvalidValue("currency: an ISO 4217 code such as CNY", field="currency")
    fees = {"monthly_fee": monthly_fee_fen, "registration_price": registration_price_fen}
    fees["resolution_price_per_1000"] = resolution_price_per_1000_fen
    for field, fen in fees.items():
        if not 0 <= fen <= MAX_FEN:
            raise InvalidValue(f"{field}: out of range", field=field)
    _check_count(included_registrations, "included_registrations")
    _check_count(included_resolutions, "included_resolutions")
    _check_count(registration_cap, "registration_cap")
    row = Plan(
        code=code,
        name=name.strip(),
        currency=currency,
        monthly_fee_fen=monthly_fee_fen,
        included_registrations=included_registrations,
        included_resolutions=included_resolutions,
        registration_price_fen=registration_price_fen,
        resolution_price_per_1000_fen=resolution_price_per_1000_fen,
        registration_cap=registration_cap,
        created_at=datetime.now(UTC),
    )
    async with cross_tenant("staff", write=True):
        if await Plan.exists().where(Plan.code == code):
            raise Conflict(f"a plan with code {code!r} exists already", field="code")
        await Plan.insert(row).run()
        await audit.record(actor=actor, action="billing.plan.create", target=code)
    return await get_plan(code)


async def get_plan(code: str) -> PlanInfo:
    row = await Plan.select().where(Plan.code == code).first().run()
    if row is None:
        raise NotFound(f"no plan {code!r}", field="plan")
    return _info(row)


async def list_plans() -> list[PlanInfo]:
    return [_info(r) for r in await Plan.select().order_by(Plan.code).run()]


async def set_plan_active(code: str, active: bool, *, actor: str) -> PlanInfo:
    """Withdraw a plan from new assignments (tenants on it stay on it), or bring it back."""
    plan = await get_plan(code)
    async with cross_tenant("staff", write=True):
        await Plan.update({Plan.active: active}).where(Plan.id == plan.id).run()
        await audit.record(
            actor=actor, action="billing.plan.active", target=code, detail={"active": active}
        )
    return await get_plan(code)


async def assign_plan(
    prefix: str, code: str, *, effective_from: date | None = None, actor: str
) -> tuple[int, PlanInfo, date]:
    """Put the tenant on a plan from ``effective_from`` (default: today in Shanghai)."""
    tenant = await get_by_prefix(prefix)
    plan = await get_plan(code)
    if not plan.active:
        raise Conflict(f"plan {code!r} is withdrawn; it takes no new tenants", field="plan")
    day = effective_from or usage.shanghai_day(usage.now())
    async with tenant_transaction(tenant.id):
        mine = (Subscription.tenant_id == tenant.id) & (Subscription.effective_from == day)
        await Subscription.delete().where(mine).run()
        await Subscription.insert(
            Subscription(
                tenant_id=tenant.id,
                plan=plan.id,
                effective_from=day,
                created_at=datetime.now(UTC),
                actor=actor,
            )
        ).run()
        await audit.record(
            actor=actor,
            action="billing.plan.assign",
            target=code,
            tenant_id=tenant.id,
            detail={"effective_from": day.isoformat()},
        )
    return tenant.id, plan, day


@dataclass(frozen=True, slots=True)
class Segment:
    """Days ``first``..``last`` of a month on one plan (None: on no plan)."""

    plan: PlanInfo | None
    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


# Every registration asks for its tenant's plan (the cap guard): plain SQL, because
# building the join through Piccolo cost a fifth of a write's CPU (py-spy, bench/upstream.py).
# The columns are the ones ``_info`` reads; every value is bound.
_PLAN_COLUMNS = ", ".join(
    f"p.{name}"
    for name in (
        "id", "code", "name", "currency", "monthly_fee_fen", "included_registrations",
        "included_resolutions", "registration_price_fen", "resolution_price_per_1000_fen",
        "registration_cap", "active",
    )
)  # fmt: skip
_PLAN_BY_CODE = f"SELECT {_PLAN_COLUMNS} FROM billing_plans p WHERE p.code = {{}}"  # noqa: S608
_PLAN_ON = (
    f"SELECT {_PLAN_COLUMNS} FROM billing_subscriptions s "  # noqa: S608
    "JOIN billing_plans p ON p.id = s.plan "
    "WHERE s.tenant_id = {} AND s.effective_from <= {} ORDER BY s.effective_from DESC LIMIT 1"
)


async def _default_plan() -> PlanInfo | None:
    code = get_settings().billing_default_plan
    if not code:
        return None
    rows = await Plan.raw(_PLAN_BY_CODE, code).run()
    return _info(rows[0]) if rows else None


async def segments(tenant_id: int, month: str) -> list[Segment]:
    """The month's days, split by the plan the tenant was on (adjacent days, same plan,
    in one segment). Days before the tenant's first subscription are on the default."""
    days = usage.month_days(month)
    async with tenant_transaction(tenant_id, write=False):
        rows = (
            await Subscription.select(Subscription.effective_from, *Subscription.plan.all_columns())
            .where(
                (Subscription.tenant_id == tenant_id) & (Subscription.effective_from <= days[-1])
            )
            .order_by(Subscription.effective_from)
            .run()
        )
    changes = [(r["effective_from"], _plan_of(r)) for r in rows]
    current = await _default_plan()
    out: list[Segment] = []
    for day in days:
        while changes and changes[0][0] <= day:
            current = changes.pop(0)[1]
        if out and out[-1].plan == current:
            out[-1] = Segment(current, out[-1].first, day)
        else:
            out.append(Segment(current, day, day))
    return out


def _plan_of(row: dict[str, Any]) -> PlanInfo:
    return _info({k.removeprefix("plan."): v for k, v in row.items() if k.startswith("plan.")})


async def plan_on(tenant_id: int, day: date) -> PlanInfo | None:
    """The plan the tenant is on on ``day`` (None: no plan)."""
    async with tenant_transaction(tenant_id, write=False):
        rows = await Subscription.raw(_PLAN_ON, tenant_id, day).run()
    return _info(rows[0]) if rows else await _default_plan()
