"""Billing pages: the tenant's Usage and Invoices (HTML, PDF), the staff plans page."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from portal_support import Web, add_member, staff_login

pytestmark = pytest.mark.anyio


async def test_tenant_usage_and_invoice_pages(web: Web, tenant_a, tenant_b) -> None:
    from billing.invoices.service import issue_month, previous_month
    from billing.plans.service import assign_plan, create_plan
    from core import usage

    code = "pg-" + uuid.uuid4().hex[:8]
    await create_plan(code, "Page plan", monthly_fee_fen=9900, included_registrations=5,
                      included_resolutions=100, registration_price_fen=5,
                      resolution_price_per_1000_fen=1000, actor="test")  # fmt: skip
    month = previous_month(usage.now())
    await assign_plan(tenant_a.prefix, code, effective_from=usage.month_days(month)[0], actor="t")
    await usage.record_window(f"pg-{code}:1", {tenant_a.id: (42, 0)}, hour=usage.now())
    number = await issue_month(tenant_a.id, month, actor="test")
    other = await issue_month(tenant_b.id, month, actor="test")  # B is on no plan: nothing
    assert number and other == ""
    await web.login(await add_member(tenant_a.id, "viewer"))
    page = await web.get(f"/console/{tenant_a.prefix}/usage")
    assert page.status_code == 200 and 'id="usage-resolutions">42<' in page.text
    assert "<svg" in page.text and "/ 100" in page.text
    listing = await web.get(f"/console/{tenant_a.prefix}/invoices")
    assert number in listing.text and "99.00" in listing.text
    html = await web.get(f"/console/{tenant_a.prefix}/invoices/{number}?lang=en")
    assert html.status_code == 200 and 'id="invoice-total">CNY 99.00<' in html.text
    zh = await web.get(f"/console/{tenant_a.prefix}/invoices/{number}?lang=zh")
    assert "月费" in zh.text and "对公转账" in zh.text
    pdf = await web.get(f"/console/{tenant_a.prefix}/invoices/{number}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert 'id="invoice-payee"' not in zh.text  # no account configured: nothing printed
    bare_en = await web.get(f"/console/{tenant_a.prefix}/invoices/{number}/pdf?lang=en")
    # With the node's payee account configured, the invoice tells the tenant where to pay.
    import os

    from core.settings import reset_settings

    account = {"IDNEST_PAYEE_NAME": "Nest Node Ltd", "IDNEST_PAYEE_BANK": "ICBC Tianjin",
               "IDNEST_PAYEE_ACCOUNT": "0302 0000 1234 5678"}  # fmt: skip
    os.environ.update(account)
    reset_settings()
    try:
        zh = await web.get(f"/console/{tenant_a.prefix}/invoices/{number}?lang=zh")
        assert "账号：0302 0000 1234 5678" in zh.text and "ICBC Tianjin" in zh.text
        en = await web.get(f"/console/{tenant_a.prefix}/invoices/{number}?lang=en")
        assert "account: 0302 0000 1234 5678" in en.text
        with_payee = await web.get(f"/console/{tenant_a.prefix}/invoices/{number}/pdf?lang=en")
        assert with_payee.status_code == 200 and len(with_payee.content) > len(bare_en.content)
    finally:
        for k in account:
            os.environ.pop(k)
        reset_settings()
    # not A's member: B's console; and A's console does not show another number
    assert (await web.get(f"/console/{tenant_b.prefix}/usage")).status_code == 404
    fake = f"INV-{month.replace('-', '')}-{tenant_b.id:06d}"
    assert (await web.get(f"/console/{tenant_a.prefix}/invoices/{fake}")).status_code == 404


async def test_staff_create_plan_and_assign(web: Web, tenant_a) -> None:
    from billing.plans.service import get_plan, plan_on
    from core import usage

    await staff_login(web, "finance")
    code = "st-" + uuid.uuid4().hex[:8]
    form = {"code": code, "name": "Staff plan", "monthly_fee": "12.34",
            "included_registrations": "10", "included_resolutions": "1000",
            "registration_price": "0.05", "resolution_price_per_1000": "1.00",
            "registration_cap": ""}  # fmt: skip
    r = await web.post("/staff/billing/plans", form, form_page="/staff/billing")
    assert r.status_code == 303
    plan = await get_plan(code)
    assert plan.monthly_fee_fen == 1234 and plan.registration_cap is None
    wrong = {**form, "code": code + "x", "monthly_fee": "1.234"}
    bad = await web.post("/staff/billing/plans", wrong, form_page="/staff/billing")
    assert bad.status_code == 303
    assert "two decimals" in (await web.get("/staff/billing")).text
    r = await web.post("/staff/billing/assign", {"prefix": tenant_a.prefix, "plan": code},
                       form_page="/staff/billing")  # fmt: skip
    assert r.status_code == 303
    today = usage.shanghai_day(usage.now())
    assert (await plan_on(tenant_a.id, today)).code == code  # type: ignore[union-attr]
    assert (await plan_on(tenant_a.id, date(2000, 1, 1))) is None
    listing = await web.get("/staff/billing")
    assert code in listing.text and "12.34" in listing.text
