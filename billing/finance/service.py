"""The finance reports, read across tenants on the ``payments`` path."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from billing.invoices.tables import STATUS_VOID, Invoice, InvoiceLine
from billing.payments.tables import BankTransfer, Payment
from core import usage
from core.tenancy import cross_tenant
from tenants.accounts.tables import Tenant

AGEING_BUCKETS = (("current", 0), ("1-30", 30), ("31-60", 60), ("61-90", 90), ("90+", None))
MAX_ROWS = 100_000


async def prefixes() -> dict[int, dict[str, Any]]:
    rows = await Tenant.select(Tenant.id, Tenant.prefix, Tenant.name).order_by(Tenant.id)
    return {int(r["id"]): r for r in rows}


def _month_of(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


async def invoices(month: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
    where = []
    if month:
        where.append(Invoice.month == month)
    if status:
        where.append(Invoice.status == status)
    q = (
        Invoice.select(
            Invoice.id,
            Invoice.tenant_id,
            Invoice.number,
            Invoice.kind,
            Invoice.month,
            Invoice.status,
            Invoice.currency,
            Invoice.total_fen,
            Invoice.paid_fen,
            Invoice.issued_at,
            Invoice.due_on,
        )
        .order_by(Invoice.month)
        .order_by(Invoice.number)
        .limit(MAX_ROWS)
    )
    for w in where:
        q = q.where(w)
    names = await prefixes()
    async with cross_tenant("payments"):
        rows = list(await q)
    for r in rows:
        r["prefix"] = names.get(int(r["tenant_id"]), {}).get("prefix", "")
    return rows


async def lines(month: str | None = None) -> list[dict[str, Any]]:
    q = (
        InvoiceLine.select(
            InvoiceLine.tenant_id,
            InvoiceLine.invoice.number,
            InvoiceLine.invoice.month,
            InvoiceLine.position,
            InvoiceLine.kind,
            InvoiceLine.description_en,
            InvoiceLine.description_zh,
            InvoiceLine.quantity,
            InvoiceLine.unit_price_fen,
            InvoiceLine.unit,
            InvoiceLine.amount_fen,
        )
        .order_by(InvoiceLine.invoice)
        .order_by(InvoiceLine.position)
        .limit(MAX_ROWS)
    )
    if month:
        q = q.where(InvoiceLine.invoice.month == month)
    names = await prefixes()
    async with cross_tenant("payments"):
        rows = list(await q)
    for r in rows:
        r["prefix"] = names.get(int(r["tenant_id"]), {}).get("prefix", "")
        r["invoice_number"] = r.pop("invoice.number")
        r["month"] = r.pop("invoice.month")
    return rows


async def payments(month: str | None = None) -> list[dict[str, Any]]:
    names = await prefixes()
    async with cross_tenant("payments"):
        rows = list(await Payment.select().order_by(Payment.paid_on).limit(MAX_ROWS))
    out = [r for r in rows if not month or _month_of(r["paid_on"]) == month]
    for r in out:
        r["prefix"] = names.get(int(r["tenant_id"]), {}).get("prefix", "")
    return out


async def usage_rows(month: str) -> list[dict[str, Any]]:
    """One row per tenant (with or without usage) for an Asia/Shanghai month."""
    per_tenant = await usage.node_month(month, path="payments")
    rows = []
    for tid, t in (await prefixes()).items():
        u = per_tenant.get(tid, usage.Usage())
        rows.append(
            {
                "prefix": t["prefix"],
                "name": t["name"],
                "month": month,
                "registrations": u.registrations,
                "resolutions": u.resolutions,
                "not_found": u.not_found,
            }
        )
    return rows


@dataclass
class AgeingRow:
    prefix: str
    name: str
    buckets: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.buckets.values())


async def ageing(today: date) -> list[AgeingRow]:
    """What each tenant owes, by days past the due date (accounts receivable)."""
    names = await prefixes()
    async with cross_tenant("payments"):
        rows = await Invoice.select(
            Invoice.tenant_id, Invoice.total_fen, Invoice.paid_fen, Invoice.due_on
        ).where(Invoice.status != STATUS_VOID)
    out: dict[int, AgeingRow] = {}
    for r in rows:
        if int(r["total_fen"]) <= int(r["paid_fen"]):
            continue
        tid = int(r["tenant_id"])
        row = out.setdefault(
            tid, AgeingRow(names.get(tid, {}).get("prefix", ""), names.get(tid, {}).get("name", ""))
        )
        late = (today - r["due_on"]).days
        bucket = next(b for b, limit in AGEING_BUCKETS if limit is None or late <= limit)
        row.buckets[bucket] = row.buckets.get(bucket, 0) + int(r["total_fen"]) - int(r["paid_fen"])
    return sorted(out.values(), key=lambda a: a.prefix)


async def unmatched_transfers() -> list[dict[str, Any]]:
    async with cross_tenant("payments"):
        return list(
            await BankTransfer.select()
            .where(BankTransfer.status == "unmatched")
            .order_by(BankTransfer.received_on)
            .limit(1000)
        )
