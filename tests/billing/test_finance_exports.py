"""Finance exports and reconciliation: the CSV and XLSX exports add up to the ledger
(invoices = their lines, paid = the payments), a ledger that does not is named, Stripe's
paid invoices are checked against ours, usage is one row per tenant, and fapiao rows
split each total into amount and VAT that add up to it."""

from __future__ import annotations

import csv
import io
import uuid

import openpyxl
import pytest
from payments_support import WEBHOOK_SECRET, make_invoice
from payments_support import stripe_event as event

pytestmark = pytest.mark.anyio


def _month() -> str:
    # A month of its own, so other tests' invoices (same database) are not in the totals.
    n = uuid.uuid4().int
    return f"20{50 + n % 49}-{1 + n % 12:02d}"


def _num(month: str) -> str:
    return f"INV-{month.replace('-', '')}-{uuid.uuid4().int % 10**9}"


async def _csv(kind: str, month: str | None, settings) -> list[dict[str, str]]:
    from billing.finance.exports import export

    return list(csv.DictReader(io.StringIO((await export(kind, "csv", month, settings)).decode())))


async def test_exports_reconcile_with_the_ledger(client, tenant_a, tenant_b, settings):
    from billing.finance import reconcile
    from billing.finance.exports import export
    from billing.payments.services import bank

    month = _month()
    a1, a2, b1 = _num(month), _num(month), _num(month)
    await make_invoice(tenant_a.id, a1, 12_345, month=month, lines=(10_000, 2_345))
    await make_invoice(tenant_a.id, a2, 500, month=month)
    await make_invoice(tenant_b.id, b1, 99_901, month=month, lines=(99_900, 1))
    await bank.record_transfers(
        [bank.TransferIn(12_345, __import__("datetime").date(2026, 12, 3), "Alpha", a1)],
        actor="test",
    )
    invoices = await _csv("invoices", month, settings)
    lines = await _csv("lines", month, settings)
    assert {r["number"] for r in invoices} == {a1, a2, b1}
    rec = await reconcile.reconcile(month, settings)
    assert rec.balanced and not rec.stripe_checked
    assert rec.invoices_total_fen == sum(int(r["total_fen"]) for r in invoices) == 112_746
    assert rec.lines_total_fen == sum(int(r["amount_fen"]) for r in lines) == 112_746
    assert rec.invoices_paid_fen == sum(int(r["paid_fen"]) for r in invoices) == 12_345
    payments = [p for p in await _csv("payments", None, settings) if p["invoice_number"] == a1]
    assert [(p["prefix"], p["amount_fen"], p["amount_yuan"]) for p in payments] == [
        (tenant_a.prefix, "12345", "123.45")
    ]
    assert {r["number"]: r["total_yuan"] for r in invoices}[b1] == "999.01"
    # The XLSX export holds the same rows.
    book = openpyxl.load_workbook(
        io.BytesIO(await export("invoices", "xlsx", month, settings)), read_only=True
    )
    sheet = list(book.active.iter_rows(values_only=True))
    assert list(sheet[0]) == list(invoices[0].keys()) and len(sheet) == len(invoices) + 1
    # A ledger that does not add up is named.
    bad = _num(month)
    await make_invoice(tenant_b.id, bad, 1_000, month=month, lines=(999,))
    assert (await reconcile.reconcile(month, settings)).ledger_mismatches == [bad]


async def test_reconciliation_against_stripe(client, tenant_a, fake_stripe):
    from billing.finance import reconcile
    from billing.payments.services import customers

    fake, settings = fake_stripe
    cus = await customers.ensure_customer(tenant_a.id, settings)
    month = _month()
    num = _num(month)
    await make_invoice(tenant_a.id, num, 500, month=month)
    fake.invoices["in_paid1"] = {
        "id": "in_paid1",
        "object": "invoice",
        "status": "paid",
        "amount_paid": 500,
        "customer": cus,
    }
    paid = event(
        "invoice.paid",
        {**fake.invoices["in_paid1"], "metadata": {"idnest_invoice": num}},
        f"evt_{uuid.uuid4().hex}",
    )
    r = await client.post(
        "/api/billing/stripe/webhook",
        content=fake.signed(paid, WEBHOOK_SECRET)[0],
        headers={"Stripe-Signature": fake.signed(paid, WEBHOOK_SECRET)[1]},
    )
    assert r.status_code == 200
    rec = await reconcile.reconcile(None, settings)
    assert rec.stripe_checked and "in_paid1" not in rec.only_in_ledger + rec.only_at_stripe
    fake.invoices["in_lost"] = {
        "id": "in_lost",
        "object": "invoice",
        "status": "paid",
        "amount_paid": 700,
        "customer": cus,
    }
    rec = await reconcile.reconcile(None, settings)
    assert "in_lost" in rec.only_at_stripe and not rec.balanced


async def test_usage_export_has_every_tenant(client, tenant_a, tenant_b, settings):
    from core import usage
    from core.tenancy import tenant_transaction

    async with tenant_transaction(tenant_a.id):
        await usage.record_registrations(tenant_a.id, 3)
    rows = {r["prefix"]: r for r in await _csv("usage", None, settings)}
    assert rows[tenant_a.prefix]["registrations"] == "3"
    assert rows[tenant_b.prefix]["registrations"] == "0"
    assert {"prefix", "registrations", "resolutions", "month"} <= set(rows[tenant_a.prefix])


async def test_fapiao_rows_split_tax_and_follow_the_tenant(client, tenant_a, tenant_b, settings):
    from billing.payments.services import fapiao

    month = _month()
    num_a, num_b = _num(month), _num(month)
    await make_invoice(tenant_a.id, num_a, 10_600, month=month)
    await make_invoice(tenant_b.id, num_b, 1, month=month)
    await fapiao.save(
        tenant_a.id,
        {
            "buyer_name": "阿尔法泵业有限公司",
            "taxpayer_id": "91110000802100433B",
            "address_phone": "北京 010-1234",
            "bank_account": "工行 6222",
        },
        actor="test",
    )
    with pytest.raises(Exception, match="taxpayer_id"):
        await fapiao.save(tenant_b.id, {"buyer_name": "B", "taxpayer_id": "123"}, actor="test")
    rows = {r["invoice_number"]: r for r in await _csv("fapiao", month, settings)}
    a = rows[num_a]
    assert (a["buyer_name"], a["taxpayer_id"]) == ("阿尔法泵业有限公司", "91110000802100433B")
    assert (a["amount_excl_tax_yuan"], a["tax_yuan"], a["total_yuan"], a["tax_rate"]) == (
        "100.00",
        "6.00",
        "106.00",
        "0.06",
    )
    assert rows[num_b]["buyer_name"] == "Beta Valves"
    assert fapiao.split_tax(1, 6) == (1, 0) and fapiao.split_tax(-10_600, 6) == (-10_000, -600)
