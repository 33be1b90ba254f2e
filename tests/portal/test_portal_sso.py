"""Staff single sign-on through OpenID Connect, against a mock provider."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from portal_support import Web, make_staff, unique_email

pytestmark = pytest.mark.anyio
ISSUER = "https://idp.example"


@pytest.fixture
def provider(settings) -> Iterator[dict]:
    from portal.web import sso

    seen: dict = {"email": "", "verified": True}

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": ISSUER,
                    "authorization_endpoint": f"{ISSUER}/authorize",
                    "token_endpoint": f"{ISSUER}/token",
                    "userinfo_endpoint": f"{ISSUER}/userinfo",
                },
            )
        if path == "/token":
            body = parse_qs(request.content.decode())
            seen["token_request"] = body
            if body.get("code") != ["good-code"]:
                return httpx.Response(400, json={"error": "invalid_grant"})
            return httpx.Response(
                200, json={"access_token": "at", "token_type": "Bearer", "expires_in": 300}
            )
        if path == "/userinfo":
            assert request.headers["authorization"] == "Bearer at"
            return httpx.Response(
                200, json={"email": seen["email"], "email_verified": seen["verified"]}
            )
        return httpx.Response(404)

    old = (settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret)
    settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret = (
        ISSUER,
        "idnest",
        "s3cret",
    )
    sso.transport = httpx.MockTransport(handle)
    yield seen
    sso.transport = None
    settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret = old


async def _start(web: Web) -> str:
    r = await web.get("/staff/sso")
    assert r.status_code == 303
    url = urlparse(r.headers["location"])
    q = parse_qs(url.query)
    assert url.netloc == "idp.example" and q["code_challenge_method"] == ["S256"]
    assert q["client_id"] == ["idnest"] and "openid" in q["scope"][0]
    return q["state"][0]


async def test_sso_signs_in_existing_staff(web: Web, provider: dict) -> None:
    addr, _ = await make_staff("reviewer")
    provider["email"] = addr.upper()
    assert "/staff/sso" in (await web.get("/login")).text
    state = await _start(web)
    r = await web.get(f"/staff/sso/callback?code=good-code&state={state}")
    assert r.status_code == 303 and r.headers["location"] == "/staff"
    assert "code_verifier" in provider["token_request"]
    assert (await web.get("/staff/applications")).status_code == 200


async def test_sso_refuses_bad_state_unknown_or_unverified(web: Web, provider: dict) -> None:
    await _start(web)
    r = await web.get("/staff/sso/callback?code=good-code&state=forged")
    assert r.status_code == 403
    provider["email"] = unique_email("stranger")
    state = await _start(web)
    assert (await web.get(f"/staff/sso/callback?code=good-code&state={state}")).status_code == 403
    addr, _ = await make_staff("admin")
    provider["email"], provider["verified"] = addr, False
    state = await _start(web)
    assert (await web.get(f"/staff/sso/callback?code=good-code&state={state}")).status_code == 403
    provider["verified"] = True
    state = await _start(web)
    assert (await web.get(f"/staff/sso/callback?code=bad-code&state={state}")).status_code == 403
    assert (await web.get("/staff")).status_code == 303


async def test_sso_off_when_not_configured(web: Web) -> None:
    assert (await web.get("/staff/sso")).status_code == 404
    assert (await web.get("/staff/sso/callback?code=x&state=y")).status_code == 404
