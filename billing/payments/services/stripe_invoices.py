"""Issued idnest invoices pushed to Stripe, so the tenant can pay them there by card,
Alipay or WeChat Pay (``IDNEST_STRIPE_PAYMENT_METHODS``, those the account allows).

The idnest invoice stays the invoice of record; the Stripe invoice carries its number in
``metadata.idnest_invoice``, which is how ``invoice.paid`` finds it again. Each step has
an idempotency key derived from the invoice number, and the ``stripe_invoices`` row is
written last: a push that died half-way is simply done again, and Stripe answers the
repeated steps with what it answered the first time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import stripe

from billing.invoices.tables import STATUS_ISSUED, Invoice, InvoiceLine
from billing.payments.services import customers, gateway
from billing.payments.tables import StripeInvoice
from core.settings import Settings
from core.tenancy import cross_tenant, tenant_transaction

BATCH = 50


async def _unpushed() -> list[dict[str, Any]]:
    async with cross_tenant("payments"):
        pushed = {
            (int(r["tenant_id"]), r["invoice_number"])
            for r in await StripeInvoice.select(
                StripeInvoice.tenant_id, StripeInvoice.invoice_number
            )
        }
        rows = await Invoice.select(
            Invoice.id,
            Invoice.tenant_id,
            Invoice.number,
            Invoice.currency,
            Invoice.total_fen,
            Invoice.paid_fen,
        ).where((Invoice.status == STATUS_ISSUED) & (Invoice.kind == "invoice"))
    todo = [r for r in rows if (int(r["tenant_id"]), r["number"]) not in pushed]
    return [r for r in todo if int(r["total_fen"]) > int(r["paid_fen"])][:BATCH]


async def push(invoice: dict[str, Any], settings: Settings) -> str:
    """Create, fill and finalize the Stripe invoice of one idnest invoice."""
    tenant_id, number = int(invoice["tenant_id"]), invoice["number"]
    cid = await customers.ensure_customer(tenant_id, settings)
    async with tenant_transaction(tenant_id, write=False):
        lines = await InvoiceLine.select(
            InvoiceLine.position, InvoiceLine.description_en, InvoiceLine.amount_fen
        ).where((InvoiceLine.tenant_id == tenant_id) & (InvoiceLine.invoice == invoice["id"]))
    client = gateway.client(settings)
    made = await client.v1.invoices.create_async(
        params={
            "customer": cid,
            "collection_method": "send_invoice",
            "days_until_due": 15,
            "currency": str(invoice["currency"]).lower(),
            "metadata": {"idnest_invoice": number},
            "payment_settings": {"payment_method_types": gateway.payment_methods(settings)},
        },
        options={"idempotency_key": f"idnest-invoice-{number}"},
    )
    for line in sorted(lines, key=lambda x: int(x["position"])):
        await client.v1.invoice_items.create_async(
            params={
                "customer": cid,
                "invoice": str(made.id),
                "amount": int(line["amount_fen"]),
                "currency": str(invoice["currency"]).lower(),
                "description": str(line["description_en"])[:500],
            },
            options={"idempotency_key": f"idnest-invoice-{number}-line-{line['position']}"},
        )
    final = await client.v1.invoices.finalize_invoice_async(
        str(made.id), options={"idempotency_key": f"idnest-invoice-{number}-finalize"}
    )
    async with tenant_transaction(tenant_id):
        await (
            StripeInvoice.insert(
                StripeInvoice(
                    tenant_id=tenant_id,
                    invoice_number=number,
                    stripe_invoice_id=str(made.id),
                    hosted_url=str(final.to_dict().get("hosted_invoice_url") or "")[:1024],
                    created_at=datetime.now(UTC),
                )
            )
            .on_conflict(action="DO NOTHING")
            .run()
        )
    return str(made.id)


async def push_issued(settings: Settings) -> tuple[int, int]:
    """Push every issued, unpaid invoice not yet at Stripe: (pushed, failed)."""
    pushed = failed = 0
    for invoice in await _unpushed():
        try:
            await push(invoice, settings)
            pushed += 1
        except (stripe.StripeError, LookupError):
            failed += 1
    return pushed, failed


async def pay_link(tenant_id: int, number: str) -> str:
    """Stripe's hosted page for paying the invoice, or "" if it is not at Stripe."""
    async with tenant_transaction(tenant_id, write=False):
        row = await (
            StripeInvoice.select(StripeInvoice.hosted_url)
            .where(
                (StripeInvoice.tenant_id == tenant_id) & (StripeInvoice.invoice_number == number)
            )
            .first()
        )
    return str(row["hosted_url"]) if row else ""
