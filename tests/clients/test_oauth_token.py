"""POST /oauth/token: client credentials by HTTP Basic or by form, and every refusal in
RFC 6749's JSON shape; the metadata and keys a client or resource server reads."""

from __future__ import annotations

import base64
import json

import pytest
from clients_support import make_client

pytestmark = pytest.mark.anyio

FORM = {"grant_type": "client_credentials"}


def _claims(token: str) -> dict:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


async def test_basic_and_post_both_issue_a_short_lived_es256_token(local, tenant_a):
    c = await make_client(tenant_a.prefix, scopes="read,write")
    r = await local.post("/oauth/token", data=FORM, auth=c.basic())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300
    assert body["scope"] == "read write"
    assert r.headers["cache-control"] == "no-store"
    header = json.loads(base64.urlsafe_b64decode(body["access_token"].split(".")[0] + "=="))
    assert header["alg"] == "ES256" and header["typ"] == "at+jwt" and header["kid"]
    claims = _claims(body["access_token"])
    assert claims["client_id"] == claims["sub"] == c.client_id
    assert claims["exp"] - claims["iat"] == 300 and claims["tenant"] == tenant_a.prefix

    r = await local.post(
        "/oauth/token",
        data={**FORM, "client_id": c.client_id, "client_secret": c.secret, "scope": "read"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "read" and _claims(r.json()["access_token"])["scope"] == "read"


async def test_wrong_secret_and_unknown_client_are_invalid_client_401(local, tenant_a):
    c = await make_client(tenant_a.prefix)
    for auth in ((c.client_id, "wrong"), ("idc_0000000000000000", c.secret)):
        r = await local.post("/oauth/token", data=FORM, auth=auth)
        assert r.status_code == 401 and r.json()["error"] == "invalid_client"
        assert r.headers["www-authenticate"].startswith("Basic ")
        assert "access_token" not in r.json()
    r = await local.post(
        "/oauth/token", data={**FORM, "client_id": c.client_id, "client_secret": "wrong"}
    )
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = await local.post("/oauth/token", data=FORM)  # no credentials at all
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    for junk in ("Basic %%%", "Basic " + base64.b64encode(b"\xff\xfe:x").decode()):
        r = await local.post("/oauth/token", data=FORM, headers={"Authorization": junk})
        assert r.status_code == 401 and r.json()["error"] == "invalid_client"


async def test_wrong_grant_type_scope_and_body_are_refused_in_rfc6749_shape(local, tenant_a):
    c = await make_client(tenant_a.prefix, scopes="read")
    r = await local.post("/oauth/token", data={"grant_type": "password"}, auth=c.basic())
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"
    r = await local.post("/oauth/token", data={"scope": "read"}, auth=c.basic())
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"
    r = await local.post("/oauth/token", data={**FORM, "scope": "write"}, auth=c.basic())
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"
    r = await local.post("/oauth/token", data={**FORM, "scope": "admin"}, auth=c.basic())
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"
    r = await local.post("/oauth/token", json=FORM, auth=c.basic())
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    both = {**FORM, "client_id": c.client_id, "client_secret": c.secret}
    r = await local.post("/oauth/token", data=both, auth=c.basic())  # two methods at once
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


async def test_plain_http_to_a_public_address_is_refused(client, tenant_a):
    """OAuth 2.0 needs TLS (or loopback): the default test client is http://testserver."""
    c = await make_client(tenant_a.prefix)
    r = await client.post("/oauth/token", data=FORM, auth=c.basic())
    assert r.status_code == 400 and r.json()["error"] == "insecure_transport"
    r = await client.post(
        "/oauth/token", data=FORM, auth=c.basic(), headers={"X-Forwarded-Proto": "https"}
    )
    assert r.status_code == 400  # an untrusted proxy's word is not taken


async def test_wrong_secrets_are_throttled_like_logins(local, tenant_a, settings):
    c = await make_client(tenant_a.prefix)
    n = settings.login_failures_per_minute
    for _ in range(n):
        r = await local.post("/oauth/token", data=FORM, auth=(c.client_id, "guess"))
        assert r.status_code == 401
    r = await local.post("/oauth/token", data=FORM, auth=(c.client_id, "guess"))
    assert r.status_code == 429 and r.json()["error"] == "invalid_client"
    assert int(r.headers["retry-after"]) > 0
    # Even the right secret waits until the window has moved on.
    r = await local.post("/oauth/token", data=FORM, auth=c.basic())
    assert r.status_code == 429
    other = await make_client(tenant_a.prefix)  # another client is not held back
    assert (await local.post("/oauth/token", data=FORM, auth=other.basic())).status_code == 200
    from core.tables import AuditLog
    from core.tenancy import tenant_transaction

    async with tenant_transaction(tenant_a.id, write=False):
        rows = (
            await AuditLog.select(AuditLog.detail)
            .where((AuditLog.action == "client.auth_failed") & (AuditLog.target == c.client_id))
            .run()
        )
    assert len(rows) == n  # each guess the limiter let through is in the owner's audit


async def test_metadata_and_jwks(local):
    r = await local.get("/.well-known/oauth-authorization-server")
    meta = r.json()
    assert r.status_code == 200 and meta["token_endpoint"] == meta["issuer"] + "/oauth/token"
    assert meta["grant_types_supported"] == ["client_credentials"]
    assert set(meta["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
    }
    r = await local.get("/.well-known/jwks.json")
    keys = r.json()["keys"]
    assert r.status_code == 200 and keys
    assert all(k["kty"] == "EC" and k["crv"] == "P-256" and k["kid"] for k in keys)
    assert all("d" not in k for k in keys)  # never the private half
