"""Bank transfers (对公转账): matched by the invoice number in the remark (any case,
anywhere) or by a unique owed amount; the rest stays unmatched until finance matches it
by hand; a statement imported twice records each transfer once; a bad statement is
refused whole, naming the row, writing nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from payments_support import invoice_state, make_invoice

pytestmark = pytest.mark.anyio


def _n(tag: str) -> str:
    # Invoice numbers are unique across the node and the test database is shared.
    return f"INV-202611-{uuid.uuid4().int % 10**9}{tag}"


def _t(amount_fen: int, reference: str, payer: str = "Alpha Pumps Ltd", bank_ref: str = ""):
    from billing.payments.services.bank import TransferIn

    return TransferIn(
        amount_fen=amount_fen,
        received_on=date(2026, 12, 3),
        payer=payer,
        reference=reference,
        bank_ref=bank_ref,
    )


async def _payments(tenant_id: int) -> list[dict]:
    from billing.payments.tables import Payment
    from core.tenancy import tenant_transaction

    async with tenant_transaction(tenant_id, write=False):
        return list(await Payment.select().where(Payment.tenant_id == tenant_id))


async def test_match_by_reference_pays_invoice_and_ends_dunning(
    client, tenant_a, tenant_b, settings
):
    from billing.payments.services import bank, dunning

    inv_a, inv_b = _n("1"), _n("2")
    await make_invoice(tenant_a.id, inv_a, 10_050)
    await make_invoice(tenant_b.id, inv_b, 20_000)
    await dunning.open_case(
        tenant_a.id,
        invoice_number=inv_a,
        reason="overdue",
        settings=settings,
        now=datetime.now(UTC) - timedelta(days=30),
    )
    await dunning.run_dunning(settings, now=datetime.now(UTC))  # past grace: suspended
    assert not await dunning.writes_allowed(tenant_a.id)
    done = await bank.record_transfers(
        [_t(10_050, f"payment for {inv_a.lower()} thanks", bank_ref=uuid.uuid4().hex)], actor="test"
    )
    assert (done.recorded, done.matched) == (1, 1)
    assert await invoice_state(tenant_a.id, inv_a) == ("paid", 10_050)
    assert await invoice_state(tenant_b.id, inv_b) == ("issued", 0)
    [pay] = await _payments(tenant_a.id)
    assert (pay["method"], pay["amount_fen"], pay["invoice_number"]) == ("bank", 10_050, inv_a)
    assert await _payments(tenant_b.id) == []
    assert await dunning.writes_allowed(tenant_a.id)  # writes back at once


async def test_amount_match_partial_and_by_hand(client, tenant_a, tenant_b):
    from billing.payments.services import bank

    inv = _n("3")
    await make_invoice(tenant_a.id, inv, 7_777_01)
    # No reference, but exactly one open invoice is owed this amount.
    done = await bank.record_transfers([_t(7_777_01, "", payer="ALPHA")], actor="test")
    assert done.matched == 1 and await invoice_state(tenant_a.id, inv) == ("paid", 7_777_01)
    # A part payment by reference leaves the invoice open; an unknown one stays unmatched.
    inv2 = _n("4")
    await make_invoice(tenant_b.id, inv2, 50_000)
    await bank.record_transfers([_t(20_000, inv2), _t(1_234_567, "no idea")], actor="test")
    assert await invoice_state(tenant_b.id, inv2) == ("issued", 20_000)
    [stray] = [t for t in await bank.transfers("unmatched") if t["amount_fen"] == 1_234_567]
    assert stray["tenant_id"] is None
    await bank.match_by_hand(stray["id"], inv2, actor="test")
    assert await invoice_state(tenant_b.id, inv2) == ("paid", 1_254_567)
    with pytest.raises(Exception, match="no unmatched transfer"):
        await bank.match_by_hand(stray["id"], inv2, actor="test")


async def test_statement_import_is_idempotent_and_bad_files_write_nothing(client, tenant_a):
    from billing.payments.services import bank
    from core.errors import InvalidValue

    inv = _n("5")
    await make_invoice(tenant_a.id, inv, 30_000)
    tx = uuid.uuid4().hex[:12]
    good = (
        f"date,amount,payer,reference,transaction_id\n"
        f'2026-12-02,"300.00",Alpha Pumps Ltd,{inv},{tx}a\n'
        f"20261202,12.34,Someone,gift,{tx}b\n"
    ).encode()
    assert (await bank.import_statement(good, actor="t")).recorded == 2
    again = await bank.import_statement(good, actor="t")
    assert (again.recorded, again.skipped) == (0, 2)
    before = len(await bank.transfers())
    bad = [
        good + b"2026-12-40,1.00,X,Y,z1\n",  # no such date
        good.replace(b"12.34", b"12.345"),  # three decimals
        good + b"2026-12-02,-5.00,X,Y,z2\n",  # negative
        b"date,amount,payer\n2026-12-02,1.00,X\n",  # a column missing
        b"\xff\xfe" + good,  # not UTF-8
        b"date,amount,payer,reference\n" + b"2026-12-02,1.00,X,Y\n" * (bank.MAX_STATEMENT_ROWS + 1),
        b"x" * (bank.MAX_STATEMENT_BYTES + 1),
    ]
    for data in bad:
        with pytest.raises(InvalidValue):
            await bank.import_statement(data, actor="t")
    assert len(await bank.transfers()) == before
