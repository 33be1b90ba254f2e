"""Dunning: a failed or overdue payment opens a case; grace with reminders; then the
tenant's writes are suspended until a payment arrives.

A tenant has at most one open case (``grace`` or ``suspended``). ``writes_allowed`` is
the question the write path asks (through the core write guard): resolution and data
export never ask it, so they go on whatever the case says. A payment closes the case
in the payment's own transaction, so writes come back at once. Every step is audited.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from billing.invoices.tables import STATUS_ISSUED, Invoice
from billing.payments.tables import DunningCase
from core import audit, quota, usage
from core.errors import WriteRefused
from core.mail import send_mail
from core.settings import Settings
from core.tenancy import cross_tenant, tenant_transaction
from tenants.accounts.tables import Membership, Tenant

log = logging.getLogger("idnest.billing.dunning")
OPEN = ("grace", "suspended")


async def open_case(
    tenant_id: int,
    *,
    invoice_number: str,
    reason: str,
    settings: Settings,
    now: datetime | None = None,
    actor: str = "billing",
) -> bool:
    """Open a case unless one is open already. True if a new one was opened."""
    now = now or datetime.now(UTC)
    async with tenant_transaction(tenant_id):
        if await DunningCase.exists().where(
            (DunningCase.tenant_id == tenant_id) & DunningCase.status.is_in(list(OPEN))
        ):
            return False
        grace_until = now + timedelta(days=settings.dunning_grace_days)
        await DunningCase.insert(
            DunningCase(
                tenant_id=tenant_id,
                invoice_number=invoice_number,
                reason=reason[:255],
                status="grace",
                opened_at=now,
                grace_until=grace_until,
            )
        ).run()
        await audit.record(
            actor=actor,
            action="billing.dunning.opened",
            target=invoice_number,
            tenant_id=tenant_id,
            detail={"reason": reason, "grace_until": grace_until.isoformat()},
        )
    return True


async def close_cases(tenant_id: int, *, why: str, now: datetime | None = None) -> int:
    """A payment arrived: close the tenant's open cases (writes are allowed again)."""
    now = now or datetime.now(UTC)
    async with tenant_transaction(tenant_id):
        rows = await DunningCase.select(DunningCase.id, DunningCase.status).where(
            (DunningCase.tenant_id == tenant_id) & DunningCase.status.is_in(list(OPEN))
        )
        if not rows:
            return 0
        await DunningCase.update({DunningCase.status: "closed", DunningCase.closed_at: now}).where(
            (DunningCase.tenant_id == tenant_id) & DunningCase.status.is_in(list(OPEN))
        )
        await audit.record(
            actor="billing",
            action="billing.dunning.closed",
            tenant_id=tenant_id,
            detail={"why": why, "writes_restored": any(r["status"] == "suspended" for r in rows)},
        )
    return len(rows)


# Asked on every identifier creation (the write guard): plain SQL, not a query Piccolo
# builds each time (that was 8% of a single PUT's CPU).
_SUSPENDED = "SELECT 1 FROM dunning_cases WHERE tenant_id = {} AND status = 'suspended' LIMIT 1"


async def writes_allowed(tenant_id: int) -> bool:
    """False while the tenant's dunning case is past its grace period."""
    async with tenant_transaction(tenant_id, write=False):
        return not await DunningCase.raw(_SUSPENDED, tenant_id).run()


async def refuse_when_suspended(tenant_id: int, count: int) -> None:
    """The write guard (core/quota.py): a suspended tenant creates nothing."""
    if not await writes_allowed(tenant_id):
        case = await open_case_of(tenant_id) or {}
        raise WriteRefused(
            f"writes are suspended: invoice {case.get('invoice_number') or '-'} is unpaid past "
            "its grace period; they come back as soon as it is paid (resolution and data "
            "export go on)",
            reason="dunning",
        )


def install_guard() -> None:
    quota.register_guard("dunning", refuse_when_suspended)


async def open_case_of(tenant_id: int) -> dict[str, Any] | None:
    async with tenant_transaction(tenant_id, write=False):
        return await (
            DunningCase.select()
            .where((DunningCase.tenant_id == tenant_id) & DunningCase.status.is_in(list(OPEN)))
            .first()
        )


async def _owner_emails(tenant_id: int) -> list[str]:
    async with tenant_transaction(tenant_id, write=False):
        rows = await Membership.select(Membership.user.email).where(
            (Membership.tenant_id == tenant_id) & (Membership.role == "owner")
        )
    return [r["user.email"] for r in rows if r.get("user.email")]


async def _notify(tenant_id: int, subject: str, body: str) -> None:
    tenant = await Tenant.select(Tenant.prefix, Tenant.name).where(Tenant.id == tenant_id).first()
    who = f"{tenant['name']} ({tenant['prefix']})" if tenant else str(tenant_id)
    for email in await _owner_emails(tenant_id):
        await send_mail(email, subject, f"{who}\n\n{body}")


@dataclass
class DunningRun:
    reminded: int = 0
    suspended: int = 0


async def _step(case: dict[str, Any], settings: Settings, now: datetime, run: DunningRun) -> None:
    tenant_id = int(case["tenant_id"])
    ref = case["invoice_number"] or "-"
    if now >= case["grace_until"]:
        async with tenant_transaction(tenant_id):
            await DunningCase.update(
                {DunningCase.status: "suspended", DunningCase.suspended_at: now}
            ).where((DunningCase.id == case["id"]) & (DunningCase.tenant_id == tenant_id))
            await audit.record(
                actor="billing",
                action="billing.dunning.suspended",
                target=ref,
                tenant_id=tenant_id,
                detail={"grace_until": case["grace_until"].isoformat()},
            )
        run.suspended += 1
        await _notify(
            tenant_id,
            "idnest: writes suspended / 写入已暂停",
            f"Invoice {ref} is unpaid past its grace period: registrations and updates are "
            "suspended until it is paid. Resolution and data export go on.\n"
            f"账单 {ref} 逾期未付，宽限期已过：标识注册与修改已暂停，付款后立即恢复。"
            "解析与数据导出不受影响。",
        )
        return
    last = case["last_reminder_at"]
    if last is not None and now - last < timedelta(days=settings.dunning_reminder_days):
        return
    async with tenant_transaction(tenant_id):
        await DunningCase.update(
            {
                DunningCase.reminders_sent: int(case["reminders_sent"]) + 1,
                DunningCase.last_reminder_at: now,
            }
        ).where((DunningCase.id == case["id"]) & (DunningCase.tenant_id == tenant_id))
        await audit.record(
            actor="billing",
            action="billing.dunning.reminded",
            target=ref,
            tenant_id=tenant_id,
            detail={"reminder": int(case["reminders_sent"]) + 1},
        )
    run.reminded += 1
    await _notify(
        tenant_id,
        "idnest: payment reminder / 付款提醒",
        f"Invoice {ref} is not paid ({case['reason']}). Writes are suspended on "
        f"{case['grace_until']:%Y-%m-%d %H:%M} UTC unless it is paid by then.\n"
        f"账单 {ref} 尚未支付。如在 {case['grace_until']:%Y-%m-%d %H:%M} UTC 前仍未付款，"
        "写入将被暂停。",
    )


async def open_overdue(settings: Settings, now: datetime) -> int:
    """Open a case for each issued invoice past its due date (Asia/Shanghai) and unpaid."""
    today = usage.shanghai_day(now)
    async with cross_tenant("payments"):
        rows = await Invoice.select(
            Invoice.tenant_id, Invoice.number, Invoice.total_fen, Invoice.paid_fen
        ).where((Invoice.status == STATUS_ISSUED) & (Invoice.due_on < today))
    opened = 0
    for r in rows:
        if int(r["paid_fen"]) < int(r["total_fen"]):
            opened += await open_case(
                int(r["tenant_id"]),
                invoice_number=r["number"],
                reason="overdue",
                settings=settings,
                now=now,
            )
    return opened


async def run_dunning(settings: Settings, now: datetime | None = None) -> DunningRun:
    """Open cases for overdue invoices, remind tenants in grace, suspend those past it
    (the periodic job)."""
    now = now or datetime.now(UTC)
    await open_overdue(settings, now)
    async with cross_tenant("payments"):
        cases = list(await DunningCase.select().where(DunningCase.status == "grace"))
    run = DunningRun()
    for case in cases:
        await _step(case, settings, now, run)
    return run
