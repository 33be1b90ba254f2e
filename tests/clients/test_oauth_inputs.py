"""Outside input on the token endpoint and in Bearer headers never answers 5xx: garbage
is refused in RFC 6749's shape (token endpoint) or as problem+json (the API)."""

from __future__ import annotations

import base64
import json

import pytest
from clients_support import make_client
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.anyio


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@settings(deadline=None)  # the first example imports the services
@given(st.text(max_size=400) | st.binary(max_size=300).map(_b64))
def test_recognising_a_token_never_raises(text: str) -> None:
    from tenants.clients.services.tokens import is_access_token

    assert is_access_token(text) in (True, False)
    assert is_access_token("eyJ" + text) in (True, False)


def _jwtish(header: object, claims: object = None) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims or {}).encode())}.c2ln"


BEARERS = [
    _jwtish({"typ": "at+jwt"}),
    _jwtish({"typ": "at+jwt", "alg": "ES256", "kid": "nope"}),
    _jwtish({"typ": "at+jwt", "alg": "none", "kid": "x"}),
    _jwtish({"typ": "at+jwt", "alg": "HS256", "kid": "x"}, {"sub": 1}),
    _jwtish({"typ": "at+jwt", "alg": "ES256", "kid": ["a"]}),
    _jwtish({"typ": "at+jwt", "alg": "ES256", "kid": "x" * 5000}),
    "eyJ" + "A" * 5000 + ".x.y",
    "eyJ.eyJ.eyJ",
]


async def test_garbage_bearers_are_401_problems(local, tenant_a) -> None:
    for token in BEARERS:
        for url in (f"/api/handles?prefix={tenant_a.prefix}", "/api/search?q=x",
                    f"/identityv2/data/detail?handle={tenant_a.prefix}/X"):  # fmt: skip
            r = await local.get(url, headers={"Authorization": f"Bearer {token}"})
            assert r.status_code < 500, (token[:40], url, r.text)
            if url.startswith("/api/"):
                assert r.status_code == 401, (token[:40], url, r.text)


FORMS = [
    {"grant_type": "client_credentials", "scope": "read " * 200},
    {"grant_type": "client_credentials", "client_id": "x" * 5000, "client_secret": "y"},
    {"grant_type": "client_credentials", "client_id": "idc_0000000000000000"},
    {"grant_type": "client_credentials", "client_id": "idc_\u0000", "client_secret": "\u00ff"},
    {"grant_type": "client_credentials" * 100},
    {"grant_type": "authorization_code", "code": "x", "redirect_uri": "https://evil"},
    {"grant_type": "refresh_token", "refresh_token": "x"},
    {"grant_type": "client_credentials", "client_id": "", "client_secret": ""},
]


async def test_odd_token_requests_are_refused_in_rfc6749_shape(local, tenant_a) -> None:
    c = await make_client(tenant_a.prefix)
    for form in FORMS:
        for auth in (None, c.basic(), (c.client_id, "\u00e9" * 300)):
            r = await local.post("/oauth/token", data=form, auth=auth)
            ok = auth == c.basic() and form == FORMS[0]  # many repeats of "read": just read
            assert ok or 400 <= r.status_code < 500, (form, r.text)
            assert set(r.json()) <= {"error", "error_description", "error_uri"}, r.text
    r = await local.post(
        "/oauth/token",
        content=b"\xff\xfe=\x00&&==",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert 400 <= r.status_code < 500
    r = await local.get("/oauth/token")
    assert r.status_code == 405 and "POST" in r.headers.get("allow", "")
