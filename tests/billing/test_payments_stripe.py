"""Stripe against a fake Stripe on a real port: a customer per tenant, meter events
queued durably and delivered once per identifier (retried after a failure, resent
safely after a lost acknowledgement), and webhooks that act once and only when signed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from billing_support import invoice_state, make_invoice
from payments_support import WEBHOOK_SECRET
from payments_support import stripe_event as event

pytestmark = pytest.mark.anyio
HOUR = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 2026-12-01 00:00 in Asia/Shanghai
QUEUED = HOUR + timedelta(minutes=55)


async def _rows(tenant_id: int) -> list[dict]:
    from billing.payments.tables import MeterEvent
    from core.tenancy import tenant_transaction

    async with tenant_transaction(tenant_id, write=False):
        return list(await MeterEvent.select().where(MeterEvent.tenant_id == tenant_id))


async def test_meter_events_are_exact_and_idempotent(client, tenant_a, tenant_b, fake_stripe):
    from billing.payments.services import meter

    fake, settings = fake_stripe
    usage = {"idnest_registrations": 3, "idnest_resolutions": 25}
    assert (
        await meter.record_window(tenant_a.id, HOUR + timedelta(minutes=7), usage, now=QUEUED) == 2
    )
    assert (
        await meter.record_window(tenant_a.id, HOUR, usage, now=QUEUED) == 0
    )  # a re-driven roll-up
    assert await meter.record_window(tenant_b.id, HOUR, {"idnest_resolutions": 4}, now=QUEUED) == 1
    done = await meter.deliver_due(settings, now=HOUR + timedelta(hours=1))
    assert (done.sent, done.failed) == (3, 0)
    customers = fake.calls("/v1/customers")
    assert len(customers) == 2
    assert {c["key"] for c in customers} == {
        f"idnest-customer-{t.id}" for t in (tenant_a, tenant_b)
    }
    sent = fake.calls("/v1/billing/meter_events")
    a_customer = next(
        c for c in fake.customers.values() if c["metadata"]["idnest_prefix"] == tenant_a.prefix
    )["id"]
    ident = f"idnest-{tenant_a.id}-idnest_resolutions-20261130T16"
    mine = next(r for r in sent if r["form"]["identifier"] == ident)
    assert mine["key"] == ident
    assert mine["form"]["payload"] == {"stripe_customer_id": a_customer, "value": "25"}
    assert mine["form"]["timestamp"] == str(int(HOUR.timestamp()))
    # Sent rows are not sent again.
    assert (await meter.deliver_due(settings, now=HOUR + timedelta(hours=2))).sent == 0
    assert len(fake.calls("/v1/billing/meter_events")) == 3


async def test_failed_delivery_is_retried_and_a_lost_ack_is_not_counted_twice(
    client, tenant_a, fake_stripe
):
    from billing.payments.services import meter
    from billing.payments.tables import MeterEvent
    from core.tenancy import tenant_transaction

    fake, settings = fake_stripe
    await meter.record_window(tenant_a.id, HOUR, {"idnest_registrations": 2}, now=QUEUED)
    now = HOUR + timedelta(hours=1)
    from billing.payments.services import customers

    await customers.ensure_customer(tenant_a.id, settings)
    fake.fail_next = 1  # the customer is known; Stripe fails the event
    done = await meter.deliver_due(settings, now=now)
    assert (done.sent, done.failed) == (0, 1)
    [row] = await _rows(tenant_a.id)
    assert row["delivered_at"] is None and row["attempts"] == 1 and row["last_error"]
    # Not due again before its backoff; due after it.
    assert (await meter.deliver_due(settings, now=now + timedelta(seconds=5))).sent == 0
    assert (await meter.deliver_due(settings, now=now + timedelta(seconds=31))).sent == 1
    # A crash after Stripe answered but before the row was marked: sent again, same key.
    async with tenant_transaction(tenant_a.id):
        await MeterEvent.update({MeterEvent.delivered_at: None}).where(
            MeterEvent.tenant_id == tenant_a.id
        )
    assert (await meter.deliver_due(settings, now=now + timedelta(minutes=5))).sent == 1
    ident = f"idnest-{tenant_a.id}-idnest_registrations-20261130T16"
    tries = [r for r in fake.calls("/v1/billing/meter_events") if r["form"]["identifier"] == ident]
    assert len(tries) == 3 and {r["key"] for r in tries} == {ident}
    assert list(fake.meter_events) == [ident]  # Stripe holds one event
    assert len(fake.calls("/v1/customers")) == 1


async def _customer(tenant, settings) -> str:
    from billing.payments.services import customers

    return await customers.ensure_customer(tenant.id, settings)


async def _post(client, body: str, header: str):
    return await client.post(
        "/api/billing/stripe/webhook",
        content=body,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )


async def _payments(tenant_id: int) -> list[dict]:
    from billing.payments.tables import Payment
    from core.tenancy import tenant_transaction

    async with tenant_transaction(tenant_id, write=False):
        return list(await Payment.select().where(Payment.tenant_id == tenant_id))


async def test_webhook_paid_once_replay_and_forgery_change_nothing(
    client, tenant_a, tenant_b, fake_stripe
):
    from billing.payments.services import dunning

    fake, settings = fake_stripe
    cus = await _customer(tenant_a, settings)
    await _customer(tenant_b, settings)
    number, b_number = (f"2026-11-{uuid.uuid4().hex[:8]}" for _ in range(2))
    await make_invoice(tenant_a.id, number, 12345)
    await make_invoice(tenant_b.id, b_number, 12345)
    failed = event(
        "invoice.payment_failed",
        {
            "id": "in_1",
            "object": "invoice",
            "customer": cus,
            "metadata": {"idnest_invoice": number},
        },
        f"evt_{uuid.uuid4().hex}",
    )
    r = await _post(client, *fake.signed(failed, WEBHOOK_SECRET))
    assert r.status_code == 200 and r.json()["outcome"] == "dunning opened"
    assert (await dunning.open_case_of(tenant_a.id) or {}).get("invoice_number") == number
    assert await dunning.open_case_of(tenant_b.id) is None
    paid_obj = {
        "id": "in_1",
        "object": "invoice",
        "customer": cus,
        "amount_paid": 12345,
        "currency": "cny",
        "metadata": {"idnest_invoice": number},
    }
    paid = event("invoice.paid", paid_obj, f"evt_{uuid.uuid4().hex}")
    body, header = fake.signed(paid, WEBHOOK_SECRET)
    # Forged: signed with another secret, or the body changed after signing, or stale.
    forged = [
        fake.signed(paid, "whsec_not_ours"),
        (body.replace("12345", "99999"), header),
        fake.signed(paid, WEBHOOK_SECRET, timestamp=int(datetime.now(UTC).timestamp()) - 3600),
        (body, ""),
    ]
    for fb, fh in forged:
        r = await _post(client, fb, fh)
        assert r.status_code == 400, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    assert await _payments(tenant_a.id) == []
    r = await _post(client, body, header)
    assert r.status_code == 200 and "12345 fen" in r.json()["outcome"]
    assert await invoice_state(tenant_a.id, number) == ("paid", 12345)
    r = await _post(client, body, header)  # Stripe retries, or an attacker replays
    assert r.status_code == 200 and r.json()["outcome"] == "replayed"
    assert await invoice_state(tenant_a.id, number) == ("paid", 12345)  # not twice
    [pay] = await _payments(tenant_a.id)
    assert (pay["amount_fen"], pay["method"], pay["invoice_number"]) == (
        12345,
        "stripe",
        number,
    )
    assert await _payments(tenant_b.id) == []
    assert await dunning.open_case_of(tenant_a.id) is None  # the payment closed the case
    # A's customer paying with B's invoice number credits nothing of B's: the payment is
    # A's, kept for finance to match by hand.
    stray = {**paid_obj, "id": "in_2", "metadata": {"idnest_invoice": b_number}}
    stray_event = event("invoice.paid", stray, f"evt_{uuid.uuid4().hex}")
    r = await _post(client, *fake.signed(stray_event, WEBHOOK_SECRET))
    assert r.status_code == 200 and r.json()["outcome"] == "payment of 12345 fen recorded"
    assert await invoice_state(tenant_b.id, b_number) == ("issued", 0)
    assert await _payments(tenant_b.id) == []


async def test_customer_updated_and_webhooks_off_without_a_secret(client, tenant_a, fake_stripe):
    from billing.payments.tables import StripeCustomer
    from core.settings import reset_settings

    fake, settings = fake_stripe
    cus = await _customer(tenant_a, settings)
    upd = event(
        "customer.updated",
        {"id": cus, "object": "customer", "email": "ap@alpha.example", "name": "Alpha Pumps Ltd"},
        f"evt_{uuid.uuid4().hex}",
    )
    r = await _post(client, *fake.signed(upd, WEBHOOK_SECRET))
    assert r.status_code == 200 and r.json()["outcome"] == "customer updated"
    from core.tenancy import tenant_transaction

    async with tenant_transaction(tenant_a.id, write=False):
        row = await StripeCustomer.select().where(StripeCustomer.tenant_id == tenant_a.id).first()
    assert row is not None
    assert (row["email"], row["name"]) == ("ap@alpha.example", "Alpha Pumps Ltd")
    import os

    os.environ.pop("IDNEST_STRIPE_WEBHOOK_SECRET")
    reset_settings()
    r = await _post(client, *fake.signed(upd, WEBHOOK_SECRET))
    assert r.status_code == 404


async def test_issued_invoice_is_pushed_to_stripe_once(client, tenant_a, fake_stripe):
    from payments_support import make_invoice

    from billing.payments.services import stripe_invoices

    fake, settings = fake_stripe
    number = f"INV-202611-{uuid.uuid4().int % 10**9}"
    await make_invoice(tenant_a.id, number, 12_000, lines=(10_000, 2_500, -500))
    pushed, failed = await stripe_invoices.push_issued(settings)
    assert failed == 0 and pushed >= 1
    [made] = [i for i in fake.invoices.values() if i["metadata"]["idnest_invoice"] == number]
    assert made["status"] == "open" and made["amount_due"] == 12_000
    assert made["payment_settings"]["payment_method_types"] == {
        "0": "card",
        "1": "alipay",
        "2": "wechat_pay",
    }
    keys = [r["key"] for r in fake.requests if number in r["key"]]
    assert keys == [f"idnest-invoice-{number}"] + [
        f"idnest-invoice-{number}-line-{n}" for n in range(3)
    ] + [f"idnest-invoice-{number}-finalize"]
    assert await stripe_invoices.pay_link(tenant_a.id, number) == made["hosted_invoice_url"]
    # Pushed once: a second run sends nothing for it.
    await stripe_invoices.push_issued(settings)
    assert [r["key"] for r in fake.requests if number in r["key"]] == keys
