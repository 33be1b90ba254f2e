"""Month close, invoices and credit notes.

``close_month`` makes each tenant's invoice of a finished Asia/Shanghai month from
billing/metering (the same figures the preview shows). It is idempotent: an invoice is
keyed by (tenant, ``close:YYYY-MM``), so a second run, or two runs at once, make nothing
new. An issued invoice's amounts never change; staff correct one with a credit note (an
invoice of kind ``credit_note`` with a negative line) or void it. Both are audited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from billing.invoices.tables import (
    KIND_CREDIT_NOTE,
    KIND_INVOICE,
    STATUS_ISSUED,
    STATUS_PAID,
    STATUS_VOID,
    Invoice,
    InvoiceLine,
)
from billing.metering.service import Line, MonthBill, month_bill
from billing.plans.tables import Subscription
from core import audit, db, usage
from core.errors import Conflict, InvalidValue, NotFound
from core.settings import get_settings
from core.tenancy import cross_tenant, tenant_transaction
from tenants.accounts.tables import Tenant

MAX_CREDIT_FEN = 10_000_000_000


@dataclass(frozen=True, slots=True)
class CloseResult:
    month: str
    created: list[str]
    existing: int
    empty: int


def previous_month(moment: datetime) -> str:
    first = moment.astimezone(usage.SHANGHAI).date().replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


def _require_closed(month: str) -> None:
    days = usage.month_days(month)
    if usage.shanghai_day(usage.now()) <= days[-1]:
        raise Conflict(
            f"{month} has not ended in Asia/Shanghai; its running figures are the preview",
            field="month",
        )


async def _billable_tenants(month: str) -> list[int]:
    """Tenants that were on a plan in the month or used the node in it."""
    last = usage.month_days(month)[-1]
    async with cross_tenant("maintenance"):
        subscribed = await Subscription.select(Subscription.tenant_id).where(
            Subscription.effective_from <= last
        )
        used = await usage.node_month(month)
        everyone = await Tenant.select(Tenant.id)
    ids = {int(r["tenant_id"]) for r in subscribed} | set(used)
    if get_settings().billing_default_plan:
        ids |= {int(r["id"]) for r in everyone}
    return sorted(ids)


async def close_month(month: str, *, actor: str = "system") -> CloseResult:
    """Issue the month's invoices that do not exist yet; return what was made."""
    usage.parse_month(month)
    _require_closed(month)
    created: list[str] = []
    existing = empty = 0
    for tenant_id in await _billable_tenants(month):
        number = await issue_month(tenant_id, month, actor=actor)
        if number == "":
            empty += 1
        elif number is None:
            existing += 1
        else:
            created.append(number)
    return CloseResult(month, created, existing, empty)


async def issue_month(tenant_id: int, month: str, *, actor: str) -> str | None:
    """Issue one tenant's invoice of a month: its number, None if it existed already, or
    "" when there is nothing to bill (no plan, no usage)."""
    bill = await month_bill(tenant_id, month, through=usage.month_days(month)[-1])
    if not bill.lines:
        return ""
    return await _issue(bill, actor)


async def _issue(bill: MonthBill, actor: str) -> str | None:
    """Insert the invoice and its lines; None if the month's invoice exists already."""
    number = f"INV-{bill.month.replace('-', '')}-{bill.tenant_id:06d}"
    key = f"close:{bill.month}"
    try:
        async with tenant_transaction(bill.tenant_id):
            mine = (Invoice.tenant_id == bill.tenant_id) & (Invoice.close_key == key)
            if await Invoice.exists().where(mine):
                return None
            await _insert(
                bill.tenant_id,
                number,
                KIND_INVOICE,
                bill.month,
                key,
                bill.lines,
                plan_codes=",".join(
                    sorted({li.detail.get("plan", "") for li in bill.lines} - {""})
                ),
            )
            await audit.record(
                actor=actor,
                action="billing.invoice.issue",
                target=number,
                tenant_id=bill.tenant_id,
                detail={"total_fen": bill.total_fen},
            )
    except Exception as exc:
        if db.is_unique_violation(exc):  # another close made it first
            return None
        raise
    return number


async def _insert(
    tenant_id: int,
    number: str,
    kind: str,
    month: str,
    key: str,
    lines: list[Line],
    *,
    plan_codes: str = "",
    corrects: int | None = None,
) -> int:
    now = usage.now()
    row = Invoice(
        tenant_id=tenant_id,
        number=number,
        kind=kind,
        month=month,
        status=STATUS_ISSUED,
        currency="CNY",
        total_fen=sum(li.amount_fen for li in lines),
        plan_codes=plan_codes[:255],
        issued_at=now,
        due_on=usage.shanghai_day(now) + timedelta(days=get_settings().billing_due_days),
        corrects=corrects,
        close_key=key,
    )
    inserted = await Invoice.insert(row).returning(Invoice.id).run()
    invoice_id = int(inserted[0]["id"])
    await InvoiceLine.insert(
        *(
            InvoiceLine(
                tenant_id=tenant_id,
                invoice=invoice_id,
                position=n,
                kind=li.kind,
                description_en=li.description_en[:512],
                description_zh=li.description_zh[:512],
                quantity=li.quantity,
                unit_price_fen=li.unit_price_fen,
                unit=li.unit,
                amount_fen=li.amount_fen,
                detail=li.detail,
            )
            for n, li in enumerate(lines)
        )
    ).run()
    return invoice_id


# --- reading ---------------------------------------------------------------------------


def _invoice_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "number": row["number"],
        "kind": row["kind"],
        "month": row["month"],
        "status": row["status"],
        "currency": row["currency"],
        "total_fen": int(row["total_fen"]),
        "paid_fen": int(row["paid_fen"]),
        "due_fen": max(0, int(row["total_fen"]) - int(row["paid_fen"]))
        if row["status"] != STATUS_VOID
        else 0,
        "issued_at": row["issued_at"].astimezone(UTC).isoformat(),
        "due_on": row["due_on"].isoformat(),
        "void_reason": row["void_reason"],
    }


async def list_invoices(tenant_id: int, *, limit: int = 120) -> list[dict[str, Any]]:
    async with tenant_transaction(tenant_id, write=False):
        rows = (
            await Invoice.select()
            .where(Invoice.tenant_id == tenant_id)
            .order_by(Invoice.issued_at, ascending=False)
            .order_by(Invoice.id, ascending=False)
            .limit(limit)
            .run()
        )
    return [_invoice_json(r) for r in rows]


async def get_invoice(tenant_id: int, number: str) -> dict[str, Any]:
    """One invoice of the tenant with its lines; NotFound for another tenant's number."""
    async with tenant_transaction(tenant_id, write=False):
        row = (
            await Invoice.select()
            .where((Invoice.tenant_id == tenant_id) & (Invoice.number == number))
            .first()
            .run()
        )
        if row is None:
            raise NotFound(f"no invoice {number!r}", field="number")
        lines = (
            await InvoiceLine.select()
            .where((InvoiceLine.tenant_id == tenant_id) & (InvoiceLine.invoice == row["id"]))
            .order_by(InvoiceLine.position)
            .run()
        )
    out = _invoice_json(row)
    out["lines"] = [
        {
            "kind": li["kind"],
            "description_en": li["description_en"],
            "description_zh": li["description_zh"],
            "quantity": int(li["quantity"]),
            "unit_price_fen": int(li["unit_price_fen"]),
            "unit": int(li["unit"]),
            "amount_fen": int(li["amount_fen"]),
        }
        for li in lines
    ]
    return out


# --- staff corrections -----------------------------------------------------------------


async def _find(number: str) -> dict[str, Any]:
    async with cross_tenant("staff"):
        row = await Invoice.select().where(Invoice.number == number).first().run()
    if row is None:
        raise NotFound(f"no invoice {number!r}", field="number")
    return row


async def void_invoice(number: str, *, reason: str, actor: str) -> dict[str, Any]:
    """Void an issued, unpaid invoice (its amounts stay as they were, for the record)."""
    if not reason.strip():
        raise InvalidValue("a reason is needed to void an invoice", field="reason")
    row = await _find(number)
    if row["status"] == STATUS_VOID:
        raise Conflict(f"invoice {number} is already void", field="number")
    if row["status"] == STATUS_PAID or int(row["paid_fen"]) > 0:
        raise Conflict(f"invoice {number} has payments; correct it with a credit note")
    tenant_id = int(row["tenant_id"])
    async with tenant_transaction(tenant_id):
        await (
            Invoice.update(
                {
                    Invoice.status: STATUS_VOID,
                    Invoice.voided_at: usage.now(),
                    Invoice.void_reason: reason.strip()[:1024],
                }
            )
            .where((Invoice.id == row["id"]) & (Invoice.tenant_id == tenant_id))
            .run()
        )
        await audit.record(
            actor=actor,
            action="billing.invoice.void",
            target=number,
            tenant_id=tenant_id,
            detail={"reason": reason.strip()[:500]},
        )
    return await get_invoice(tenant_id, number)


async def credit_note(number: str, amount_fen: int, *, reason: str, actor: str) -> dict[str, Any]:
    """A credit note against an issued invoice, for at most what it has not credited yet."""
    if not reason.strip():
        raise InvalidValue("a reason is needed for a credit note", field="reason")
    if not 0 < amount_fen <= MAX_CREDIT_FEN:
        raise InvalidValue("amount: more than 0.00 yuan", field="amount")
    row = await _find(number)
    if row["kind"] != KIND_INVOICE or row["status"] == STATUS_VOID:
        raise Conflict(f"{number} is not an issued invoice; nothing to credit", field="number")
    tenant_id = int(row["tenant_id"])
    async with tenant_transaction(tenant_id):
        credited = await Invoice.select(Invoice.total_fen).where(
            (Invoice.tenant_id == tenant_id)
            & (Invoice.corrects == row["id"])
            & (Invoice.status != STATUS_VOID)
        )
        left = int(row["total_fen"]) + sum(int(c["total_fen"]) for c in credited)
        if amount_fen > left:
            raise Conflict(f"invoice {number} has {left / 100:.2f} yuan left to credit")
        seq = len(credited) + 1
        cn = f"CN-{row['month'].replace('-', '')}-{tenant_id:06d}-{seq}"
        line = Line(
            "credit",
            f"Credit note for {number}: {reason.strip()}"[:512],
            f"{number} 的红字冲销：{reason.strip()}"[:512],
            1,
            -amount_fen,
            1,
            -amount_fen,
        )
        await _insert(
            tenant_id,
            cn,
            KIND_CREDIT_NOTE,
            row["month"],
            f"credit:{uuid.uuid4().hex}",
            [line],
            corrects=int(row["id"]),
        )
        await audit.record(
            actor=actor,
            action="billing.credit_note",
            target=cn,
            tenant_id=tenant_id,
            detail={"invoice": number, "amount_fen": amount_fen, "reason": reason.strip()[:500]},
        )
    return await get_invoice(tenant_id, cn)


async def staff_invoices(month: str | None = None, *, limit: int = 500) -> list[dict[str, Any]]:
    """Every tenant's invoices (of a month), newest first, for the staff console."""
    query = Invoice.select(*Invoice.all_columns(), Invoice.tenant_id.prefix.as_alias("prefix"))
    if month:
        query = query.where(Invoice.month == month)
    async with cross_tenant("staff"):
        rows = await query.order_by(Invoice.id, ascending=False).limit(limit).run()
    return [{**_invoice_json(r), "prefix": r["prefix"]} for r in rows]
