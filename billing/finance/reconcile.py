"""The ledger reconciled: against itself (lines add up to totals, payments to what each
invoice shows paid) and against Stripe (every paid Stripe invoice is a payment here, for
the same amount, and no Stripe payment here is unknown to Stripe)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from billing.finance import service
from billing.payments.services import gateway
from core.settings import Settings


@dataclass
class Reconciliation:
    month: str | None
    invoices_total_fen: int = 0
    lines_total_fen: int = 0
    invoices_paid_fen: int = 0
    payments_total_fen: int = 0
    # Invoice numbers whose lines or payments disagree with the invoice.
    ledger_mismatches: list[str] = field(default_factory=list)
    stripe_checked: bool = False
    only_in_ledger: list[str] = field(default_factory=list)
    only_at_stripe: list[str] = field(default_factory=list)
    amount_differs: list[str] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return not (
            self.ledger_mismatches
            or self.only_in_ledger
            or self.only_at_stripe
            or self.amount_differs
        )


def _sums(rows: list[dict[str, Any]], key: str, amount: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows:
        out[r[key]] = out.get(r[key], 0) + int(r[amount])
    return out


async def _stripe_paid(settings: Settings) -> dict[str, int]:
    listed = await gateway.client(settings).v1.invoices.list_async(
        params={"status": "paid", "limit": 100}
    )
    found = [i.to_dict() for i in listed.data]
    return {str(i["id"]): int(i.get("amount_paid") or 0) for i in found}


async def reconcile(month: str | None, settings: Settings) -> Reconciliation:
    invoices = await service.invoices(month)
    lines = await service.lines(month)
    payments = await service.payments()
    numbers = {i["number"] for i in invoices}
    mine = [p for p in payments if p["invoice_number"] in numbers or not month]
    rec = Reconciliation(month)
    rec.invoices_total_fen = sum(int(i["total_fen"]) for i in invoices)
    rec.lines_total_fen = sum(int(line["amount_fen"]) for line in lines)
    rec.invoices_paid_fen = sum(int(i["paid_fen"]) for i in invoices)
    rec.payments_total_fen = sum(int(p["amount_fen"]) for p in mine if p["invoice_number"])
    by_lines = _sums(lines, "invoice_number", "amount_fen")
    by_payments = _sums(mine, "invoice_number", "amount_fen")
    for i in invoices:
        n = i["number"]
        if by_lines.get(n, 0) != int(i["total_fen"]) or by_payments.get(n, 0) != int(i["paid_fen"]):
            rec.ledger_mismatches.append(n)
    if gateway.enabled(settings):
        rec.stripe_checked = True
        at_stripe = await _stripe_paid(settings)
        ours = {p["external_id"]: int(p["amount_fen"]) for p in payments if p["method"] == "stripe"}
        rec.only_in_ledger = sorted(set(ours) - set(at_stripe))
        if not month:
            rec.only_at_stripe = sorted(set(at_stripe) - set(ours))
        rec.amount_differs = sorted(
            k for k in set(ours) & set(at_stripe) if ours[k] != at_stripe[k]
        )
    return rec
