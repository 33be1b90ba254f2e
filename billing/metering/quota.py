"""The plan's registration cap as a write guard (core/quota.py).

Registered at start-up by billing/jobs.py (imported by every serving and worker process).
Runs inside the write's tenant transaction: the month's registrations so far (core/usage)
plus the ones about to be created may not pass the cap of the plan in force today. On
PostgreSQL a transaction-scoped advisory lock per tenant makes concurrent writers of a
capped tenant take turns, so two of them cannot both take the last free place; SQLite's
writer lock already does. Uncapped tenants take no lock and read no usage.
"""

from __future__ import annotations

from billing.plans.service import plan_on
from core import db, quota, usage
from core.errors import QuotaExceeded

GUARD_NAME = "billing.registration_cap"
# First key of the two-key advisory lock: "registration cap" (arbitrary, constant).
_LOCK_CLASS = 0x1D_B111


async def registration_cap_guard(tenant_id: int, count: int) -> None:
    now = usage.now()
    plan = await plan_on(tenant_id, usage.shanghai_day(now))
    if plan is None or plan.registration_cap is None:
        return
    if isinstance(db.engine(), db.PostgresEngine):
        conn = db.transaction_connection()
        await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", _LOCK_CLASS, tenant_id)
    month = usage.month_of(now)
    used = (await usage.tenant_month(tenant_id, month)).registrations
    if used + count > plan.registration_cap:
        left = max(0, plan.registration_cap - used)
        raise QuotaExceeded(
            f"plan {plan.code!r} allows {plan.registration_cap} registrations a month; "
            f"{used} are used in {month}, {left} left, this write would create {count}",
            reason="registration_cap",
        )


def install() -> None:
    quota.register_guard(GUARD_NAME, registration_cap_guard)
