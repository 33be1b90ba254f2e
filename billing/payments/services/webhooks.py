"""Stripe webhooks: verified, acted on once, each step audited.

The body is checked with ``stripe.Webhook.construct_event`` against
``IDNEST_STRIPE_WEBHOOK_SECRET`` (signature and a five-minute timestamp tolerance); a
forged or stale body changes nothing and answers 400. The event id is written in the
same transaction as its effect (``stripe_webhook_events``, unique), so a replayed event
finds its row and changes nothing, and two deliveries racing each other cannot both
commit.

Events acted on: ``invoice.paid`` (a payment row, the idnest invoice named in its
``metadata.idnest_invoice`` credited and marked paid once covered, dunning closed),
``invoice.payment_failed`` (dunning opened), ``customer.updated`` (the customer's name and
email). Others are acknowledged and ignored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import stripe

from billing.invoices.tables import STATUS_ISSUED, STATUS_PAID, Invoice
from billing.payments.services import dunning
from billing.payments.tables import Payment, StripeCustomer, StripeWebhookEvent
from core import audit
from core.errors import InvalidValue, NotFound
from core.settings import Settings
from core.tenancy import cross_tenant, tenant_transaction

MAX_BODY = 256 * 1024


async def _tenant_of(customer: str | None) -> int | None:
    if not customer:
        return None
    row = await (
        StripeCustomer.select(StripeCustomer.tenant_id)
        .where(StripeCustomer.customer_id == customer)
        .first()
    )
    return int(row["tenant_id"]) if row else None


def _verify(payload: bytes, signature: str | None, settings: Settings) -> dict[str, Any]:
    if not settings.stripe_webhook_secret:
        raise NotFound("Stripe webhooks are not configured on this node")
    if len(payload) > MAX_BODY:
        raise InvalidValue("webhook body too large", field="body")
    try:
        event = stripe.Webhook.construct_event(
            payload, signature or "", settings.stripe_webhook_secret
        )
    except stripe.SignatureVerificationError as exc:
        raise InvalidValue(
            "the Stripe-Signature does not verify", field="Stripe-Signature"
        ) from exc
    except ValueError as exc:
        raise InvalidValue("the webhook body is not a Stripe event", field="body") from exc
    found: dict[str, Any] = event.to_dict()
    if not isinstance(found.get("data"), dict) or not isinstance(found["data"].get("object"), dict):
        raise InvalidValue("the webhook event has no data.object", field="body")
    return found


async def _invoice_paid(tenant_id: int, obj: Any, now: datetime) -> str:
    number = str((obj.get("metadata") or {}).get("idnest_invoice", ""))[:64]
    paid = int(obj.get("amount_paid") or 0)
    async with tenant_transaction(tenant_id):
        inserted = await (
            Payment.insert(
                Payment(
                    tenant_id=tenant_id,
                    invoice_number=number,
                    method="stripe",
                    amount_fen=paid,
                    currency=str(obj.get("currency") or "cny").upper()[:3],
                    paid_on=now.date(),
                    payer=str(obj.get("customer_name") or "")[:255],
                    reference=str(obj["id"])[:128],
                    external_id=str(obj["id"])[:128],
                    created_at=now,
                )
            )
            .on_conflict(action="DO NOTHING")
            .returning(Payment.id)
            .run()
        )
        settled = await _settle(tenant_id, number, paid) if inserted and paid > 0 else None
        await audit.record(
            actor="stripe",
            action="billing.payment.received",
            target=number,
            tenant_id=tenant_id,
            detail={"method": "stripe", "amount_fen": paid, "id": obj["id"], "invoice": settled},
        )
        await dunning.close_cases(tenant_id, why=f"stripe payment {obj['id']}", now=now)
    return f"payment of {paid} fen recorded" + (f"; invoice {number} {settled}" if settled else "")


async def _settle(tenant_id: int, number: str, paid: int) -> str | None:
    """Inside the payment's transaction: raise the idnest invoice's ``paid_fen`` by what
    Stripe collected, ``paid`` once covered; None when no issued invoice has that number
    (the payment row is kept for finance to match by hand)."""
    if not number:
        return None
    inv = await (
        Invoice.select(Invoice.id, Invoice.total_fen, Invoice.paid_fen)
        .where(
            (Invoice.tenant_id == tenant_id)
            & (Invoice.number == number)
            & (Invoice.status == STATUS_ISSUED)
        )
        .first()
    )
    if inv is None:
        return None
    total = int(inv["paid_fen"]) + paid
    status = STATUS_PAID if total >= int(inv["total_fen"]) else STATUS_ISSUED
    await Invoice.update({Invoice.paid_fen: total, Invoice.status: status}).where(
        (Invoice.id == inv["id"]) & (Invoice.tenant_id == tenant_id)
    )
    return status


async def _customer_updated(tenant_id: int, obj: Any, now: datetime) -> str:
    async with tenant_transaction(tenant_id):
        await StripeCustomer.update(
            {
                StripeCustomer.email: str(obj.get("email") or "")[:320],
                StripeCustomer.name: str(obj.get("name") or "")[:255],
                StripeCustomer.updated_at: now,
            }
        ).where((StripeCustomer.tenant_id == tenant_id) & (StripeCustomer.customer_id == obj["id"]))
        await audit.record(
            actor="stripe",
            action="billing.customer.updated",
            target=str(obj["id"]),
            tenant_id=tenant_id,
        )
    return "customer updated"


async def _apply(event: Any, tenant_id: int | None, settings: Settings, now: datetime) -> str:
    obj = event["data"]["object"]
    if tenant_id is None:
        return "ignored: no tenant has this customer"
    if event["type"] == "invoice.paid":
        return await _invoice_paid(tenant_id, obj, now)
    if event["type"] == "invoice.payment_failed":
        number = str((obj.get("metadata") or {}).get("idnest_invoice", ""))[:64]
        opened = await dunning.open_case(
            tenant_id,
            invoice_number=number,
            reason="Stripe payment failed",
            settings=settings,
            now=now,
            actor="stripe",
        )
        return "dunning opened" if opened else "dunning already open"
    if event["type"] == "customer.updated":
        return await _customer_updated(tenant_id, obj, now)
    return "ignored"


async def receive(
    payload: bytes, signature: str | None, settings: Settings, now: datetime | None = None
) -> str:
    """Verify and act on one webhook; returns what happened ("replayed" for a repeat)."""
    event = _verify(payload, signature, settings)
    now = now or datetime.now(UTC)
    async with cross_tenant("payments", write=True):
        seen = await StripeWebhookEvent.exists().where(StripeWebhookEvent.event_id == event["id"])
        if seen:
            return "replayed"
        obj = event["data"]["object"]
        customer = obj.get("customer") if event["type"].startswith("invoice.") else obj.get("id")
        tenant_id = await _tenant_of(customer)
        outcome = await _apply(event, tenant_id, settings, now)
        await StripeWebhookEvent.insert(
            StripeWebhookEvent(
                event_id=str(event["id"])[:128],
                event_type=str(event["type"])[:100],
                tenant_ref=tenant_id,
                outcome=outcome[:255],
                received_at=now,
            )
        ).run()
    return outcome
