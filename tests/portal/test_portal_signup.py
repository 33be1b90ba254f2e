"""Signup: the form in both languages, every field's check, CSRF, confirmation."""

from __future__ import annotations

import re

import pytest
from portal_support import PDF, Web, clean_credit_code, last_link, licence, mails_to, signup_form

pytestmark = pytest.mark.anyio


async def test_signup_page_is_chinese_by_default_english_on_request(web: Web) -> None:
    r = await web.get("/signup")
    assert r.status_code == 200
    assert "统一社会信用代码" in r.text and 'lang="zh-CN"' in r.text
    assert "_csrf_token" in r.text
    assert not re.search(r'(src|href)="https?://', r.text)
    assert "13 农副食品加工业" in r.text  # GB/T 4754 divisions are offered
    en = await web.get("/signup?lang=en")
    assert "Unified social credit code" in en.text and 'lang="en"' in en.text
    # The choice is remembered in a cookie; Accept-Language also works.
    assert "Unified social credit code" in (await web.get("/signup")).text
    r = await web.c.get("/apply")
    assert r.status_code == 200


async def test_accept_language_english(web2: Web) -> None:
    r = await web2.get("/register", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert "credit code" in r.text


async def test_post_without_csrf_is_refused(web: Web) -> None:
    r = await web.c.post("/signup", data={"company_name": "x"})
    assert r.status_code == 403
    await web.get("/signup")
    r = await web.c.post("/signup", data={"company_name": "x", "_csrf_token": "forged"})
    assert r.status_code == 403


async def _signup(web: Web, form: dict, files: dict | None = None):
    return await web.post("/signup", form, form_page="/signup", files=files or licence())


async def test_bad_credit_code_is_shown_next_to_its_field_and_values_kept(web: Web) -> None:
    form = signup_form(credit_code="91310000MA1FL1MM3H", company_name="保留的名称有限公司")
    r = await _signup(web, form)
    assert r.status_code == 400
    assert 'id="e-credit_code"' in r.text and "校验码错误" in r.text
    assert 'value="保留的名称有限公司"' in r.text
    assert 'value="91310000MA1FL1MM3H"' in r.text
    assert 'name="industries" value="13" checked' in r.text
    assert "correct horse" not in r.text  # passwords are never echoed


async def test_errors_in_english(web: Web) -> None:
    await web.get("/signup?lang=en")
    r = await _signup(web, signup_form(credit_code="123"))
    assert "The code has the wrong length." in r.text


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("contact_id", "110105194912310021", "e-contact_id"),
        ("contact_mobile", "12345", "e-contact_mobile"),
        ("contact_email", "not-an-email", "e-contact_email"),
        ("company_name", "", "e-company_name"),
        ("industries", [], "e-industries"),
        ("industries", ["99"], "e-industries"),
        ("endpoints", "192.168.1.10", "内网或保留地址"),
        ("endpoints", "10.0.0.1\n8.8.8.8", "e-endpoints"),
        ("endpoints", "intranet.local", "e-endpoints"),
        ("endpoints", "::1", "e-endpoints"),
        ("preferred_code", "a b", "e-preferred_code"),
        ("password2", "something else", "e-password2"),
    ],
)
async def test_each_bad_field(web: Web, field: str, value: object, needle: str) -> None:
    form = signup_form(credit_code=await clean_credit_code())
    form[field] = value
    r = await _signup(web, form)
    assert r.status_code == 400
    assert needle in r.text


async def test_licence_checked_by_content_and_size(web: Web) -> None:
    code = await clean_credit_code()
    r = await _signup(
        web,
        signup_form(credit_code=code),
        files={"licence": ("licence.pdf", b"MZ not a pdf", "application/pdf")},
    )
    assert r.status_code == 400 and "e-licence" in r.text
    big = PDF + b"0" * (10 * 1024 * 1024)
    r = await _signup(web, signup_form(credit_code=code), files=licence(big))
    assert r.status_code == 400 and "10 MB" in r.text
    r = await web.post("/signup", signup_form(credit_code=code), form_page="/signup")
    assert r.status_code == 400 and "请上传营业执照" in r.text
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    r = await _signup(
        web, signup_form(credit_code=code), files={"licence": ("scan.txt", png, "text/plain")}
    )
    assert r.status_code == 303


async def test_signup_confirm_and_duplicates(web: Web, web2: Web) -> None:
    from tenants.onboarding.tables import Application

    code = await clean_credit_code()
    form = signup_form(credit_code=code)
    r = await _signup(web, form)
    assert r.status_code == 303 and r.headers["location"] == "/application"
    row = await Application.select().where(Application.credit_code == code).first().run()
    assert row["status"] == "draft"
    assert row["contact_id_enc"] and "11010519491231002X" not in row["contact_id_enc"]
    assert row["contact_id_masked"].startswith("110") and "*" in row["contact_id_masked"]
    # The mobile number too: encrypted at rest, shown masked.
    from core import crypto

    mobile = form["contact_mobile"]
    assert row["contact_mobile"] == mobile[:3] + "****" + mobile[-4:]
    assert mobile not in row["contact_mobile_enc"]
    assert crypto.decrypt(row["contact_mobile_enc"]) == mobile
    page = await web.get("/application")
    assert "11010519491231002X" not in page.text and row["contact_id_masked"] in page.text
    assert mobile not in page.text and row["contact_mobile"] in page.text
    # The same credit code (or the same email) cannot apply twice.
    again = await _signup(web2, signup_form(credit_code=code))
    assert again.status_code == 400 and "已提交过申请" in again.text
    again = await _signup(
        web2,
        signup_form(credit_code=await clean_credit_code(), contact_email=form["contact_email"]),
    )
    assert again.status_code == 400 and "e-contact_email" in again.text
    # Confirm from the mail outbox: draft -> submitted. The link works once.
    link = last_link(form["contact_email"], "/confirm/")
    r = await web2.get(link)
    assert r.status_code == 200
    row = await Application.select().where(Application.credit_code == code).first().run()
    assert row["status"] == "submitted" and row["email_confirmed_at"] is not None
    assert (await web2.get(link)).status_code == 400
    assert (await web2.get("/confirm/not-a-token")).status_code == 400


async def test_resend_confirmation(web: Web) -> None:
    form = signup_form(credit_code=await clean_credit_code())
    await _signup(web, form)
    r = await web.post("/application/resend", form_page="/application")
    assert r.status_code == 303
    assert len(mails_to(form["contact_email"])) == 2
    for _ in range(2):
        await web.post("/application/resend", form_page="/application")
    r = await web.post("/application/resend", form_page="/application")
    assert r.status_code == 429
    assert len(mails_to(form["contact_email"])) == 4


async def test_application_page_needs_login(web: Web) -> None:
    r = await web.get("/application")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
