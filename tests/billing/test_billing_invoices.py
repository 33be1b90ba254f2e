"""Month close with a controllable clock: idempotent, immutable, previewed, corrected by
credit notes and voids that are audited; the tenant reads its own invoices only."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

pytestmark = pytest.mark.anyio


@pytest.fixture
def clock():
    from core import usage

    now = {"t": datetime(2031, 3, 14, 4, 0, tzinfo=UTC)}
    usage.set_clock(lambda: now["t"])
    yield now
    usage.set_clock(None)


async def _plan(**kw):
    from billing.plans.service import create_plan

    args = dict(monthly_fee_fen=3100, included_registrations=1, included_resolutions=1000,
                registration_price_fen=50, resolution_price_per_1000_fen=200)  # fmt: skip
    args.update(kw)
    code = "t-" + uuid.uuid4().hex[:10]
    return await create_plan(code, "Test " + code, actor="test", **args)


async def test_close_is_idempotent_and_matches_the_preview(client, tenant_a, clock):
    from billing.invoices.service import close_month, get_invoice
    from billing.metering.service import month_bill
    from billing.plans.service import assign_plan
    from core import usage
    from core.errors import Conflict

    p = await _plan()
    await assign_plan(tenant_a.prefix, p.code, effective_from=date(2031, 3, 11), actor="test")
    await usage.record_registrations(tenant_a.id, 3)  # 2 over x 50 fen
    await usage.record_window("t-close:1", {tenant_a.id: (2500, 4)}, hour=usage.now())
    with pytest.raises(Conflict):
        await close_month("2031-03")  # not over yet in Shanghai
    clock["t"] = datetime(2031, 3, 31, 15, 59, tzinfo=UTC)  # 23:59 on the 31st there
    preview = await month_bill(tenant_a.id, "2031-03")
    with pytest.raises(Conflict):
        await close_month("2031-03")
    clock["t"] = datetime(2031, 3, 31, 16, 0, tzinfo=UTC)  # 00:00 on 1 April there
    first = await close_month("2031-03")
    number = f"INV-203103-{tenant_a.id:06d}"
    assert number in first.created
    again = await close_month("2031-03")
    assert number not in again.created and again.existing >= 1
    inv = await get_invoice(tenant_a.id, number)
    # 21 of 31 days of 31.00 yuan = 21.00; 2 x 0.50; 1500 x 2.00/1000 = 3.00
    assert [(li["kind"], li["amount_fen"]) for li in inv["lines"]] == [
        ("fee", 2100),
        ("included_registrations", 0),
        ("included_resolutions", 0),
        ("registration_overage", 100),
        ("resolution_overage", 300),
    ]
    assert inv["total_fen"] == preview.total_fen == 2500
    # usage arriving after the close does not change the issued invoice
    await usage.record_registrations(tenant_a.id, 5, at=datetime(2031, 3, 20, tzinfo=UTC))
    await close_month("2031-03")
    assert (await get_invoice(tenant_a.id, number))["total_fen"] == 2500


async def test_credit_note_and_void_are_audited_and_bounded(client, tenant_a, tenant_b, clock):
    from node_support import as_node

    from billing.invoices.service import credit_note, get_invoice, issue_month, void_invoice
    from billing.plans.service import assign_plan
    from core.errors import Conflict, NotFound
    from core.tables import AuditLog

    p = await _plan()
    await assign_plan(tenant_a.prefix, p.code, effective_from=date(2031, 2, 1), actor="test")
    number = await issue_month(tenant_a.id, "2031-02", actor="test")
    assert number
    total = (await get_invoice(tenant_a.id, number))["total_fen"]
    assert total == 3100
    cn = await credit_note(number, 1000, reason="outage on the 3rd", actor="staff:1")
    assert cn["kind"] == "credit_note" and cn["total_fen"] == -1000
    with pytest.raises(Conflict):
        await credit_note(number, 2101, reason="too much", actor="staff:1")
    with pytest.raises(NotFound):
        await get_invoice(tenant_b.id, number)  # B cannot read A's invoice
    voided = await void_invoice(number, reason="wrong plan", actor="staff:1")
    assert voided["status"] == "void" and voided["total_fen"] == total  # amounts stay
    with pytest.raises(Conflict):
        await void_invoice(number, reason="again", actor="staff:1")
    async with as_node():
        actions = await AuditLog.select(AuditLog.action).where(AuditLog.tenant_id == tenant_a.id)
    done = {a["action"] for a in actions}
    assert {"billing.invoice.issue", "billing.credit_note", "billing.invoice.void"} <= done


async def test_tenant_api_usage_invoices_and_pdf(client, tenant_a, tenant_b, clock):
    from billing.invoices.service import issue_month
    from billing.plans.service import assign_plan

    p = await _plan()
    await assign_plan(tenant_a.prefix, p.code, effective_from=date(2031, 2, 1), actor="test")
    number = await issue_month(tenant_a.id, "2031-02", actor="test")
    assert (await client.get("/api/billing/usage")).status_code == 401
    r = await client.get("/api/billing/usage?month=2031-02", headers=tenant_a.auth())
    assert r.status_code == 200 and r.json()["month"] == "2031-02"
    assert r.json()["plan"] == p.code and len(r.json()["days"]) == 28
    bad = await client.get("/api/billing/usage?month=2031-2", headers=tenant_a.auth())
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("application/problem")
    mine = await client.get("/api/billing/invoices", headers=tenant_a.auth())
    assert [i["number"] for i in mine.json()["invoices"]] == [number]
    theirs = await client.get("/api/billing/invoices", headers=tenant_b.auth())
    assert theirs.json()["invoices"] == []
    assert (
        await client.get(f"/api/billing/invoices/{number}", headers=tenant_b.auth())
    ).status_code == 404
    for lang in ("zh", "en"):
        pdf = await client.get(f"/api/billing/invoices/{number}/pdf?lang={lang}",
                               headers=tenant_a.auth())  # fmt: skip
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        assert pdf.headers["content-type"] == "application/pdf"
