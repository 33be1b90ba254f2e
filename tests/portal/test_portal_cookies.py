"""Cookies follow the request's scheme on the embedded default, X-Forwarded-Proto is
believed only from a trusted proxy, a refused form says why, and TOTP enrolment shows a
QR code."""

from __future__ import annotations

import html
import re
from urllib.parse import unquote

import httpx
import pytest
import segno
from portal_support import CSRF, PASSWORD, Web, add_member, make_staff

from core.proxy import ForwardedScheme
from core.settings import Settings

pytestmark = pytest.mark.anyio
SVG_NS = "http://www.w3.org/2000/svg"


def set_cookies(r: httpx.Response) -> list[str]:
    return r.headers.get_list("set-cookie")


async def _http(app, client_ip: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(client_ip, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://node.lan:8000")


async def test_plain_http_login_works_on_the_embedded_default(client, app, settings, tenant_a):
    if not settings.embedded:
        pytest.skip("the single-node profile keeps cookies Secure-only")
    addr = await add_member(tenant_a.id, "owner")
    async with await _http(app) as c:
        form = await c.get("/login")
        assert set_cookies(form) and not any("secure" in h.lower() for h in set_cookies(form))
        token = CSRF.search(form.text).group(1)
        r = await c.post("/login", data={"email": addr, "password": PASSWORD, "_csrf_token": token})
        assert r.status_code == 303 and r.headers["location"] == f"/console/{tenant_a.prefix}"
        assert not any("secure" in h.lower() for h in set_cookies(r))
        # httpx, like a browser, sends a Secure cookie only over HTTPS: this proves none is.
        assert (await c.get(f"/console/{tenant_a.prefix}")).status_code == 200


async def test_https_keeps_cookies_secure(web: Web) -> None:
    r = await web.get("/login")
    assert all("secure" in h.lower() for h in set_cookies(r))


def _scheme_app(settings: Settings):
    seen: dict[str, str] = {}

    async def inner(scope, receive, send):
        seen["scheme"] = scope["scheme"]
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"set-cookie", b"a=1; HttpOnly; Path=/; Secure")],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    return ForwardedScheme(inner, settings), seen


async def test_forwarded_proto_only_from_trusted_proxies() -> None:
    settings = Settings(trusted_proxies="10.0.0.0/8", database_url="")
    app, seen = _scheme_app(settings)
    proto = {"X-Forwarded-Proto": "https"}
    async with await _http(app, "10.1.2.3") as c:  # the proxy: believed
        r = await c.get("/", headers=proto)
        assert seen["scheme"] == "https" and "Secure" in r.headers["set-cookie"]
        r = await c.get("/", headers={"X-Forwarded-Proto": "http"})
        assert seen["scheme"] == "http" and "Secure" not in r.headers["set-cookie"]
    async with await _http(app, "192.168.1.9") as c:  # anyone else: ignored
        r = await c.get("/", headers=proto)
        assert seen["scheme"] == "http" and "Secure" not in r.headers["set-cookie"]
    # Forced Secure (IDNEST_COOKIE_SECURE=true), or the single-node profile: kept.
    for forced in (
        Settings(cookie_secure=True, database_url=""),
        Settings(database_url="postgresql://x@127.0.0.1/db"),
    ):
        app, seen = _scheme_app(forced)
        async with await _http(app) as c:
            assert "Secure" in (await c.get("/")).headers["set-cookie"]


async def test_refused_login_names_the_reason(client, app, settings) -> None:
    async with await _http(app) as c:
        form = await c.get("/login")
        token = CSRF.search(form.text).group(1)
        c.cookies.clear()  # what a browser does with a cookie it may not keep
        r = await c.post(
            "/login?lang=en", data={"email": "x@example.com", "password": "y", "_csrf_token": token}
        )
        assert r.status_code == 403
        text = r.text
        if settings.cookies_follow_scheme:
            assert "did not send back this site&#39;s cookie" in text
        else:
            assert "HTTPS only" in text and "IDNEST_COOKIE_SECURE" in text
        assert 'id="retry" href' in text or 'href="/login" id="retry"' in text
        # A stale token with the cookie present (it is sent back only where cookies
        # follow the scheme; a Secure one never is over HTTP): named too.
        await c.get("/login")
        r = await c.post("/login?lang=en", data={"email": "x@example.com", "_csrf_token": "x"})
        expected = "out of date" if settings.cookies_follow_scheme else "HTTPS only"
        assert r.status_code == 403 and expected in r.text


async def test_totp_enrolment_shows_a_qr_code(web: Web) -> None:
    addr, _secret = await make_staff("admin")
    # make_staff enables TOTP; a fresh staff user without it sees the enrolment page.
    from tenants.accounts.services.users import create_staff

    fresh = addr.replace("@", "-new@")
    await create_staff(fresh, PASSWORD, roles=["admin"])
    r = await web.login(fresh)
    assert r.status_code == 303 and r.headers["location"] == "/staff/totp"
    page = await web.get("/staff/totp")
    m = re.search(r'<img id="totp-qr" src="(data:image/svg\+xml[^"]+)"', page.text)
    assert m, page.text
    src = html.unescape(m.group(1))
    svg = unquote(src.split(",", 1)[1])
    assert svg.startswith("<svg") and "<path" in svg and "http" not in svg.replace(SVG_NS, "")
    # It encodes the provisioning URI shown beside it (the key, the account, the issuer).
    uri = html.unescape(re.search(r'<code class="wrap">([^<]+)</code>', page.text).group(1))
    assert uri.startswith("otpauth://totp/") and "secret=" in uri
    assert src == segno.make(uri, error="m").svg_data_uri(scale=5)


async def test_refused_login_says_wrong_password_or_disabled(web: Web, tenant_a) -> None:
    from tenants.accounts.tables import User

    addr = await add_member(tenant_a.id, "owner")
    r = await web.post("/login?lang=en", {"email": addr, "password": "not the password"})
    assert r.status_code == 400 and "The email or password is wrong." in r.text
    r = await web.post("/login?lang=en", {"email": "nobody@example.com", "password": PASSWORD})
    assert r.status_code == 400 and "The email or password is wrong." in r.text
    await User.update({User.is_active: False}).where(User.email == addr).run()
    # A wrong password on a disabled account tells nothing more than on any other.
    r = await web.post("/login?lang=en", {"email": addr, "password": "not the password"})
    assert r.status_code == 400 and "The email or password is wrong." in r.text
    r = await web.post("/login?lang=en", {"email": addr, "password": PASSWORD})
    assert r.status_code == 400 and "This account is disabled" in r.text
    assert "idnest_bind" not in r.headers.get("set-cookie", "")
