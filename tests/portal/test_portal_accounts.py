"""Accounts and plumbing: login, logout, reset, throttling, cookies, catalogues, crypto."""

from __future__ import annotations

import os

import pytest
from portal_support import PASSWORD, Web, add_member, last_link, unique_email

pytestmark = pytest.mark.anyio


async def test_login_logout_and_cookie_flags(web: Web, tenant_a) -> None:
    addr = await add_member(tenant_a.id, "developer")
    r = await web.login(addr, "wrong password")
    assert r.status_code == 400 and "邮箱或密码错误" in r.text
    r = await web.login(addr.upper())
    assert r.status_code == 303
    cookies = [v for k, v in r.headers.multi_items() if k == "set-cookie"]
    session = next(c for c in cookies if c.startswith("idnest_session="))
    low = session.lower()
    assert "httponly" in low and "secure" in low and "samesite=lax" in low
    assert (await web.get(f"/console/{tenant_a.prefix}")).status_code == 200
    r = await web.post("/logout", form_page=f"/console/{tenant_a.prefix}")
    assert r.status_code == 303
    assert (await web.get(f"/console/{tenant_a.prefix}")).status_code == 303


async def test_planted_session_id_never_logs_the_attacker_in(web: Web, web2: Web, tenant_a) -> None:
    addr = await add_member(tenant_a.id, "viewer")
    planted = "f" * 64
    web.c.cookies.set("idnest_session", planted, domain="testserver.local")
    web2.c.cookies.set("idnest_session", planted, domain="testserver.local")
    r = await web.login(addr)
    assert r.status_code == 303
    bind = next(
        v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("idnest_bind=")
    )
    assert "httponly" in bind.lower() and "secure" in bind.lower()
    assert (await web.get(f"/console/{tenant_a.prefix}")).status_code == 200
    # The attacker holds the same session id but not the bind secret.
    assert (await web2.get(f"/console/{tenant_a.prefix}")).status_code == 303


async def test_unknown_email_and_throttle(web: Web) -> None:
    addr = unique_email("nobody")
    for _ in range(5):
        assert (await web.login(addr, "x" * 12)).status_code == 400
    r = await web.login(addr, "x" * 12)
    assert r.status_code == 429 and "一分钟" in r.text


@pytest.mark.skipif(
    os.environ.get("IDNEST_TEST_PROFILE") != "postgres", reason="windows live in Redis"
)
async def test_throttle_windows_belong_to_one_deployment(monkeypatch) -> None:
    """Two nodes sharing a Redis: failures against one must not lock an address out of
    the other, and resetting one's windows must not clear the other's."""
    from core.settings import reset_settings
    from portal.web import throttle

    throttle.reset_limiter()  # a limiter from another test holds that test's event loop
    addr = unique_email("shared")
    for _ in range(5):
        await throttle.failed(addr, "198.51.100.7")
    assert not await throttle.allowed(addr, "198.51.100.7")

    monkeypatch.setenv("IDNEST_DATABASE_URL", "postgresql://other-node.invalid/idnest")
    reset_settings()
    throttle.reset_limiter()
    try:
        assert await throttle.allowed(addr, "198.51.100.7")
        await throttle.limiter().storage.reset()
    finally:
        monkeypatch.undo()
        reset_settings()
        throttle.reset_limiter()
    assert not await throttle.allowed(addr, "198.51.100.7")


async def test_next_parameter_is_local_only(web: Web, tenant_a) -> None:
    addr = await add_member(tenant_a.id, "owner")
    r = await web.get(f"/console/{tenant_a.prefix}/keys")
    assert r.headers["location"] == f"/login?next=/console/{tenant_a.prefix}/keys"
    form = await web.get(r.headers["location"])
    assert f'action="/login?next=/console/{tenant_a.prefix}/keys"' in form.text
    for bad in ("//evil.example/", "/\\evil.example/", "https://evil.example/"):
        token = await web.token("/login")
        r = await web.c.post(
            "/login",
            params={"next": bad},
            data={"email": addr, "password": PASSWORD, "_csrf_token": token},
        )
        assert r.headers["location"] == f"/console/{tenant_a.prefix}", bad
    token = await web.token("/login")
    r = await web.c.post(
        f"/login?next=/console/{tenant_a.prefix}/keys",
        data={"email": addr, "password": PASSWORD, "_csrf_token": token},
    )
    assert r.headers["location"] == f"/console/{tenant_a.prefix}/keys"
    assert (await web.get(r.headers["location"])).status_code == 200


async def test_password_reset(web: Web, web2: Web, tenant_a) -> None:
    addr = await add_member(tenant_a.id, "owner")
    await web.login(addr)
    assert (await web.get(f"/console/{tenant_a.prefix}")).status_code == 200
    r = await web.post("/password/forgot", {"email": addr}, form_page="/password/forgot")
    assert r.status_code == 200
    # Unknown addresses get the same answer and no mail.
    r = await web.post("/password/forgot", {"email": unique_email()}, form_page="/password/forgot")
    assert r.status_code == 200
    link = last_link(addr, "/password/reset/")
    r = await web2.post(
        link, {"password": "new password 123", "password2": "different"}, form_page=link
    )
    assert r.status_code == 400
    r = await web2.post(link, {"password": "short", "password2": "short"}, form_page=link)
    assert r.status_code == 400
    r = await web2.post(
        link, {"password": "new password 123", "password2": "new password 123"}, form_page=link
    )
    assert r.status_code == 303
    # The new password ends sessions that logged in with the old one.
    assert (await web.get(f"/console/{tenant_a.prefix}")).status_code == 303
    assert (await web.login(addr)).status_code == 400
    assert (await web.login(addr, "new password 123")).status_code == 303
    r = await web2.post(
        link, {"password": "another pass 1", "password2": "another pass 1"}, form_page=link
    )
    assert r.status_code == 400  # used once


async def test_json_apis_need_no_csrf(web: Web, tenant_a) -> None:
    r = await web.c.put(
        f"/api/handles/{tenant_a.prefix}/NO-CSRF",
        headers=tenant_a.auth(),
        json={"values": [{"index": 1, "type": "URL", "data": "https://x.example"}]},
    )
    assert r.status_code in (200, 201)
    assert "idnest_session" not in r.headers.get("set-cookie", "")


async def test_pages_have_security_headers_and_local_assets(web: Web) -> None:
    r = await web.get("/login")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert (await web.get("/static/portal.css")).status_code == 200
    assert (await web.get("/static/portal.js")).status_code == 200


def test_every_message_has_a_chinese_translation() -> None:
    from portal.i18n_extract import missing

    assert missing("zh_CN") == []


def test_language_negotiation() -> None:
    from core.i18n import negotiate

    assert negotiate(None, None, None) == "zh_CN"
    assert negotiate("en", None, "zh-CN") == "en"
    assert negotiate(None, "en", None) == "en"
    assert negotiate(None, None, "fr-FR,en;q=0.5,zh;q=0.9") == "zh_CN"
    assert negotiate(None, None, "en-US,en;q=0.9") == "en"
    assert negotiate("xx", None, None) == "zh_CN"


def test_crypto_roundtrip() -> None:
    from core import crypto

    token = crypto.encrypt("11010519491231002X")
    assert "1101051949" not in token
    assert crypto.decrypt(token) == "11010519491231002X"
    assert crypto.decrypt("garbage") is None


@pytest.mark.parametrize(
    ("entry", "ok"),
    [
        ("8.8.8.8", True),
        ("2400:3200::1", True),
        ("example.cn", True),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("127.0.0.1", False),
        ("169.254.1.1", False),
        ("fc00::1", False),
        ("100.64.0.1", False),
        ("localhost", False),
        ("printer.local", False),
        ("a..b", False),
        ("-bad.example.com", False),
    ],
)
def test_endpoint_checks(entry: str, ok: bool) -> None:
    from tenants.onboarding.services.validation import check_endpoint

    assert (check_endpoint(entry) is None) is ok


def test_forbidden_words() -> None:
    from tenants.onboarding.services.validation import name_problems

    assert name_problems("中国人民测试有限公司", "中国人民,赌博") == ["中国人民"]
    assert name_problems("北京测试有限公司", "中国人民,赌博") == []


async def test_mail_written_to_var_when_no_smtp(client) -> None:
    from portal_support import mails_to

    from core.mail import send_mail

    addr = unique_email("mail")
    await send_mail(addr, "主题 subject", "正文 body")
    msgs = mails_to(addr)
    assert len(msgs) == 1 and "正文" in msgs[0].get_payload(decode=True).decode()


async def test_reset_mails_are_throttled(web: Web, tenant_a) -> None:
    from portal_support import mails_to

    addr = await add_member(tenant_a.id, "viewer")
    for _ in range(5):
        r = await web.post("/password/forgot", {"email": addr}, form_page="/password/forgot")
        assert r.status_code == 200
    assert len(mails_to(addr)) == 3
