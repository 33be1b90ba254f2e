"""Staff: TOTP, roles, the review queue, approve/reject/resubmit, tenants, staff users."""

from __future__ import annotations

import pyotp
import pytest
from node_support import as_node
from portal_support import (
    PASSWORD,
    Web,
    clean_credit_code,
    last_link,
    licence,
    make_staff,
    signup_form,
    staff_login,
    unique_email,
)

pytestmark = pytest.mark.anyio


async def _submitted(web: Web, **over: str) -> tuple[int, dict]:
    """A confirmed (submitted) application; returns its id and the form used."""
    from tenants.onboarding.tables import Application

    form = signup_form(credit_code=await clean_credit_code(), **over)
    r = await web.post("/signup", form, form_page="/signup", files=licence())
    assert r.status_code == 303, r.text
    assert (await web.get(last_link(form["contact_email"], "/confirm/"))).status_code == 200
    row = (
        await Application.select(Application.id)
        .where(Application.credit_code == form["credit_code"])
        .first()
        .run()
    )
    return row["id"], form


async def test_staff_must_set_up_totp_then_use_it(web: Web, web2: Web) -> None:
    from tenants.accounts.services.users import create_staff

    addr = unique_email("staff")
    await create_staff(addr, PASSWORD, roles=["reviewer"])
    r = await web.login(addr)
    assert r.headers["location"] == "/staff/totp"
    # Not logged in yet: the console redirects to login.
    assert (await web.get("/staff")).status_code == 303
    page = await web.get("/staff/totp")
    secret = page.text.split('id="totp-secret">')[1].split("<")[0]
    r = await web.post("/staff/totp", {"code": "000000"}, form_page="/staff/totp")
    assert r.status_code == 400
    r = await web.post("/staff/totp", {"code": pyotp.TOTP(secret).now()}, form_page="/staff/totp")
    assert r.headers["location"] == "/staff"
    assert (await web.get("/staff")).status_code == 200
    # Next login asks for the code, and a wrong one is refused.
    r = await web2.login(addr)
    assert r.headers["location"] == "/login/totp"
    r = await web2.post("/login/totp", {"code": "123456"}, form_page="/login/totp")
    assert r.status_code == 400
    assert (await web2.get("/staff")).status_code == 303


async def test_roles_limit_pages(web: Web, web2: Web) -> None:
    await staff_login(web, "finance")
    assert (await web.get("/staff/tenants")).status_code == 200
    assert (await web.get("/staff/applications")).status_code == 404
    assert (await web.get("/staff/users")).status_code == 404
    # A tenant user (not staff) sees no staff console at all.
    form = signup_form(credit_code=await clean_credit_code())
    await web2.post("/signup", form, form_page="/signup", files=licence())
    assert (await web2.get("/staff")).status_code == 404
    assert (await web2.get("/staff/applications/1")).status_code == 404


async def test_reject_resubmit_approve(web: Web, web2: Web) -> None:
    from core.tables import AuditLog, Outbox
    from tenants.accounts.tables import Membership, Tenant
    from tenants.onboarding.tables import Application

    preferred = "P" + (await clean_credit_code())[-8:]
    app_id, form = await _submitted(web2, preferred_code=preferred)
    await staff_login(web, "reviewer")
    queue = await web.get("/staff/applications?status=submitted")
    assert form["company_name"] in queue.text
    assert form["credit_code"] not in (await web.get("/staff/applications?status=approved")).text
    assert (
        form["credit_code"] in (await web.get(f"/staff/applications?q={form['credit_code']}")).text
    )
    review = await web.get(f"/staff/applications/{app_id}")
    assert review.status_code == 200
    assert "信用代码校验" in review.text and "11010519491231002X" not in review.text
    lic = await web.get(f"/staff/applications/{app_id}/licence")
    assert lic.headers["content-type"].startswith("application/pdf")
    base = f"/staff/applications/{app_id}"
    r = await web.post(f"{base}/review", form_page=base)
    assert r.status_code == 303
    # A rejection needs a reason.
    r = await web.post(f"{base}/reject", {"reason": "  "}, form_page=base)
    assert r.status_code == 400
    r = await web.post(f"{base}/reject", {"reason": "营业执照不清晰"}, form_page=base)
    assert r.status_code == 303
    row = await Application.select().where(Application.id == app_id).first().run()
    assert row["status"] == "rejected" and row["rejection_reason"] == "营业执照不清晰"
    # The applicant sees the reason, fixes, resubmits.
    mine = await web2.get("/application")
    assert "营业执照不清晰" in mine.text
    edit = await web2.get("/application/edit")
    assert edit.status_code == 200 and 'value="北京测试科技有限公司"' in edit.text
    fixed = {k: v for k, v in form.items() if k not in ("password", "password2", "contact_email")}
    fixed["contact_id"] = ""
    fixed["credit_code"] = "bad"
    r = await web2.post("/application/edit", fixed, form_page="/application/edit")
    assert r.status_code == 400 and "e-credit_code" in r.text
    fixed["credit_code"] = form["credit_code"]
    r = await web2.post(
        "/application/edit", fixed, form_page="/application/edit", files=licence(name="clear.pdf")
    )
    assert r.status_code == 303
    row = await Application.select().where(Application.id == app_id).first().run()
    assert row["status"] == "submitted" and row["contact_id_masked"]
    # Rejected again is impossible now; approve allocates the preferred code.
    r = await web.post(f"{base}/approve", form_page=base)
    assert r.status_code == 303
    row = await Application.select().where(Application.id == app_id).first().run()
    assert row["status"] == "approved" and row["approved_tenant_id"]
    tenant = await Tenant.select().where(Tenant.id == row["approved_tenant_id"]).first().run()
    assert tenant["prefix"] == f"88.100.{preferred.lower()}" and tenant["status"] == "active"
    async with as_node():
        assert (
            await Membership.exists()
            .where((Membership.tenant_id == tenant["id"]) & (Membership.role == "owner"))
            .run()
        )
    async with as_node():
        assert (
            await Outbox.exists()
            .where((Outbox.tenant_id == tenant["id"]) & (Outbox.topic == "upstream.enterprise"))
            .run()
        )
    async with as_node():
        actions = [
            a["action"]
            for a in await AuditLog.select(AuditLog.action)
            .where(AuditLog.target == form["credit_code"])
            .run()
        ]
    for a in (
        "application.create",
        "application.submit",
        "application.in_review",
        "application.rejected",
        "application.resubmit",
        "application.approved",
    ):
        assert a in actions
    trail = await web.get(base)
    assert "营业执照不清晰" in trail.text and "application.approved" in trail.text
    # Deciding twice is refused; the applicant now lands in the console.
    assert (await web.post(f"{base}/reject", {"reason": "x"}, form_page=base)).status_code == 400
    assert (await web.post(f"{base}/nonsense", form_page=base)).status_code == 404
    r = await web2.get("/")
    assert r.headers["location"] == f"/console/{tenant['prefix']}"


async def test_preferred_code_taken_falls_back_to_next_number(
    web: Web, web2: Web, tenant_a
) -> None:

    code = tenant_a.prefix.split(".")[-1]
    form = signup_form(credit_code=await clean_credit_code(), preferred_code=code)
    r = await web2.post("/signup", form, form_page="/signup", files=licence())
    assert r.status_code == 400 and "已被分配" in r.text


async def test_tenant_status_needs_reason_and_role(web: Web, web2: Web, tenant_a) -> None:
    from tenants.accounts.tables import Tenant

    await staff_login(web, "operator")
    page = await web.get(f"/staff/tenants/{tenant_a.prefix}")
    assert page.status_code == 200 and "Alpha Pumps" in page.text
    assert "Alpha" in (await web.get("/staff/tenants?q=alpha")).text
    base = f"/staff/tenants/{tenant_a.prefix}"
    await web.post(f"{base}/status", {"status": "suspended", "reason": ""}, form_page=base)
    row = await Tenant.select().where(Tenant.id == tenant_a.id).first().run()
    assert row["status"] == "active"
    await web.post(f"{base}/status", {"status": "suspended", "reason": "欠费"}, form_page=base)
    row = await Tenant.select().where(Tenant.id == tenant_a.id).first().run()
    assert row["status"] == "suspended"
    assert "欠费" in (await web.get(base)).text
    await web.post(f"{base}/status", {"status": "active", "reason": "已缴费"}, form_page=base)
    assert (await Tenant.select().where(Tenant.id == tenant_a.id).first().run())[
        "status"
    ] == "active"
    assert (await web.get("/staff/tenants/88.100.nope")).status_code == 404
    # finance reads but cannot change status.
    await staff_login(web2, "finance")
    r = await web2.post(f"{base}/status", {"status": "closed", "reason": "x"}, form_page=base)
    assert r.status_code == 404


async def test_staff_users_admin_only(web: Web) -> None:
    from tenants.accounts.tables import User

    await staff_login(web, "admin")
    addr = unique_email("new-staff")
    r = await web.post(
        "/staff/users",
        {"email": addr, "password": "short", "roles": ["reviewer"]},
        form_page="/staff/users",
    )
    assert r.status_code == 400
    r = await web.post(
        "/staff/users",
        {"email": addr, "password": PASSWORD, "roles": ["reviewer"]},
        form_page="/staff/users",
    )
    assert r.status_code == 303
    user = await User.select().where(User.email == addr).first().run()
    assert user["is_staff"] and user["staff_roles"] == "reviewer"
    r = await web.post(
        f"/staff/users/{user['id']}/roles",
        {"roles": ["finance", "operator"]},
        form_page="/staff/users",
    )
    user = await User.select().where(User.email == addr).first().run()
    assert user["staff_roles"] == "finance,operator"
    assert (await web.get("/staff/node")).status_code == 200


async def test_throttled_staff_login(web: Web) -> None:
    addr, _secret = await make_staff("reviewer")
    for _ in range(5):
        assert (await web.login(addr, "wrong password!")).status_code == 400
    assert (await web.login(addr)).status_code == 429


async def test_two_approvals_at_once_allocate_one_prefix(web: Web) -> None:
    import asyncio

    from tenants.accounts.tables import Tenant
    from tenants.onboarding.services import review
    from tenants.onboarding.tables import Application

    app_id, _form = await _submitted(web)
    before = await Tenant.count().run()
    results = await asyncio.gather(
        review.approve(app_id, actor="a"),
        review.approve(app_id, actor="b"),
        return_exceptions=True,
    )
    assert sum(isinstance(r, str) for r in results) == 1
    assert await Tenant.count().run() == before + 1
    row = await Application.select().where(Application.id == app_id).first().run()
    assert row["status"] == "approved"


async def test_admin_resets_a_staff_totp(web: Web, web2: Web) -> None:
    from tenants.accounts.tables import User

    await staff_login(web, "admin")
    addr, _secret = await make_staff("reviewer")
    uid = (await User.select(User.id).where(User.email == addr).first().run())["id"]
    r = await web.post(f"/staff/users/{uid}/totp-reset", form_page="/staff/users")
    assert r.status_code == 303
    # The reviewer must enrol again at the next login.
    r = await web2.login(addr)
    assert r.headers["location"] == "/staff/totp"
    # Only admins may do this.
    await staff_login(web2, "reviewer")
    r = await web2.post(f"/staff/users/{uid}/totp-reset", form_page="/staff")
    assert r.status_code == 404
