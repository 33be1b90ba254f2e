"""Finance pages need the finance role (admin passes; a reviewer gets 404), show the
ledger, import a bank statement (a bad one is a 400 page and writes nothing); a tenant
keeps its own invoicing details and never sees another's."""

from __future__ import annotations

import uuid

import pytest
from billing_support import make_invoice
from portal_support import add_member, staff_login

pytestmark = pytest.mark.anyio


async def _invoice(tenant_id: int, total: int) -> str:
    number = f"INV-209912-{uuid.uuid4().int % 10**9}"
    await make_invoice(tenant_id, number, total, month="2099-12", due_on="2099-12-31")
    return number


async def test_finance_pages_need_the_finance_role(web, web2, tenant_a):
    number = await _invoice(tenant_a.id, 4_200)
    await staff_login(web2, "reviewer")
    for path in ("/staff/finance", "/staff/finance/payments", "/staff/finance/export?kind=usage"):
        assert (await web2.get(path)).status_code == 404
    await staff_login(web, "finance")
    r = await web.get("/staff/finance?month=2099-12")
    assert r.status_code == 200 and number in r.text and "42.00" in r.text
    for path in (
        "/staff/finance/usage",
        "/staff/finance/ageing",
        "/staff/finance/reconciliation",
        "/staff/finance/payments",
    ):
        assert (await web.get(path)).status_code == 200, path
    r = await web.get("/staff/finance/export?kind=invoices&format=csv&month=2099-12")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert number in r.text
    assert (await web.get("/staff/finance/export?kind=nope")).status_code == 400
    assert (await web.get("/staff/finance/export?kind=usage&month=2026-13")).status_code == 400


async def test_statement_upload_bad_row_is_400_and_writes_nothing(web, tenant_a):
    from billing.payments.services import bank

    number = await _invoice(tenant_a.id, 1_000)
    await staff_login(web, "finance")
    before = len(await bank.transfers())
    body = f"date,amount,payer,reference\n2099-12-01,10.00,Alpha,{number}\n2099-12-01,abc,X,Y\n"
    r = await web.post(
        "/staff/finance/transfers/import",
        form_page="/staff/finance/payments",
        files={"file": ("s.csv", body.encode(), "text/csv")},
    )
    assert r.status_code == 400 and "row 3 amount" in r.text
    assert len(await bank.transfers()) == before
    r = await web.post(
        "/staff/finance/transfers/import",
        form_page="/staff/finance/payments",
        files={"file": ("s.csv", body.split("\n2099-12-01,abc")[0].encode(), "text/csv")},
    )
    assert r.status_code == 303
    assert number in (await web.get("/staff/finance/payments")).text


async def test_fapiao_details_are_the_tenants_own(web, tenant_a, tenant_b):
    owner = await add_member(tenant_a.id, "owner")
    await web.login(owner)
    r = await web.get(f"/console/{tenant_a.prefix}/fapiao")
    assert r.status_code == 200 and "Alpha Pumps" in r.text
    r = await web.post(
        f"/console/{tenant_a.prefix}/fapiao",
        {
            "buyer_name": "Alpha Pumps Co., Ltd.",
            "taxpayer_id": "9144030071526726XG",
            "address_phone": "Shenzhen 0755-1",
            "bank_account": "ICBC 1",
        },
        form_page=f"/console/{tenant_a.prefix}/fapiao",
    )
    assert r.status_code == 303
    assert "9144030071526726XG" in (await web.get(f"/console/{tenant_a.prefix}/fapiao")).text
    assert (await web.get(f"/console/{tenant_b.prefix}/fapiao")).status_code == 404
    r = await web.post(
        f"/console/{tenant_b.prefix}/fapiao",
        {"buyer_name": "evil"},
        form_page=f"/console/{tenant_a.prefix}/fapiao",
    )
    assert r.status_code == 404
