"""An access token works wherever an API key works (REST, SNMS, bulk, search), within
its scopes, its client's address list and its tenant; expired, tampered, revoked or
rotated-out tokens stop."""

from __future__ import annotations

import base64
import json
import time

import pytest
from clients_support import bearer, make_client, token_for

pytestmark = pytest.mark.anyio
JSON = {"Content-Type": "application/json"}


def _record(data: str, restricted: str = "hidden") -> dict:
    return {
        "values": [
            {"index": 1, "type": "URL", "data": data},
            {"index": 2, "type": "NOTE", "data": restricted, "permissions": "1100"},
        ]
    }


async def _put(http, t, suffix: str, headers: dict) -> int:
    r = await http.put(
        f"/api/handles/{t.prefix}/{suffix}",
        json=_record(f"https://e.com/{suffix}"),
        headers={**headers, **JSON},
    )
    return r.status_code


async def test_rest_read_and_write_by_scope(local, tenant_a):
    writer = await token_for(local, await make_client(tenant_a.prefix, scopes="read,write"))
    reader = await token_for(local, await make_client(tenant_a.prefix, scopes="read"))
    assert await _put(local, tenant_a, "T-1", bearer(writer)) == 201
    r = await local.get(
        f"/api/handles/{tenant_a.prefix}/T-1?publicOnly=false", headers=bearer(reader)
    )
    assert r.status_code == 200 and "hidden" in r.text  # a restricted value, to its tenant
    assert "hidden" not in (await local.get(f"/api/handles/{tenant_a.prefix}/T-1")).text
    r = await local.put(
        f"/api/handles/{tenant_a.prefix}/T-2", json=_record("https://e.com/x"),
        headers={**bearer(reader), **JSON},
    )  # fmt: skip
    assert r.status_code == 403 and "write" in r.json()["detail"]
    # A write token may ask for a read-only token, which then cannot write.
    narrowed = await token_for(
        local, await make_client(tenant_a.prefix, scopes="read,write"), scope="read"
    )
    assert await _put(local, tenant_a, "T-3", bearer(narrowed)) == 403


async def test_tenant_b_token_cannot_touch_a(local, tenant_a, tenant_b):
    assert await _put(local, tenant_a, "A-1", tenant_a.auth()) == 201
    b = await token_for(local, await make_client(tenant_b.prefix, scopes="read,write"))
    assert await _put(local, tenant_a, "A-1", bearer(b)) == 403
    r = await local.delete(f"/api/handles/{tenant_a.prefix}/A-1", headers=bearer(b))
    assert r.status_code == 403
    r = await local.get(f"/api/handles/{tenant_a.prefix}/A-1?publicOnly=false", headers=bearer(b))
    assert r.status_code == 200 and "hidden" not in r.text  # public values only
    r = await local.get(f"/api/handles?prefix={tenant_a.prefix}", headers=bearer(b))
    assert r.status_code in (401, 403, 404) and "A-1" not in r.text
    r = await local.get("/api/search?q=A-1", headers=bearer(b))
    assert r.status_code == 200 and r.json()["items"] == []


async def test_snms_bulk_and_search_accept_a_token(local, tenant_a):
    from tenants.identifiers import jobs

    tok = bearer(await token_for(local, await make_client(tenant_a.prefix, scopes="read,write")))
    item = {
        "handle": f"{tenant_a.prefix}/S-1",
        "value": [
            {"index": 1, "type": "URL", "data": {"format": "string", "value": "https://e.com/s"}}
        ],
    }
    r = await local.post("/identityv2/data", json=item, headers=tok)
    assert r.json()["status"] == 1, r.text
    r = await local.get(f"/identityv2/data/detail?handle={tenant_a.prefix}/S-1", headers=tok)
    assert r.json()["status"] == 1 and r.json()["data"]["value"]
    # The ``token`` header some SNMS clients send instead of Authorization.
    r = await local.get(
        f"/identityv2/data/detail?handle={tenant_a.prefix}/S-1",
        headers={"token": tok["Authorization"][7:]},
    )
    assert r.json()["status"] == 1
    value = {"index": 1, "type": "URL", "data": "https://e.com/b"}
    line = json.dumps({"handle": f"{tenant_a.prefix}/B-1", "values": [value]})
    r = await local.post(
        "/api/bulk/jobs?format=ndjson&mode=create", content=(line + "\n").encode(),
        headers={**tok, "Content-Type": "application/x-ndjson"},
    )  # fmt: skip
    assert r.status_code == 202, r.text
    await jobs.wait_local()
    r = await local.get(f"/api/bulk/jobs/{r.json()['jobId']}", headers=tok)
    assert r.json()["okRows"] == 1
    r = await local.get("/api/search?q=B-1", headers=tok)
    assert [i["handle"] for i in r.json()["items"]] == [f"{tenant_a.prefix}/B-1"]


def _tamper(token: str) -> str:
    head, body, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["scope"] = "read write"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{forged}.{sig}"


async def test_expired_tampered_and_foreign_tokens_fail(local, tenant_a, monkeypatch):
    from joserfc import jwt
    from joserfc.jwk import ECKey

    from tenants.clients.services import tokens

    c = await make_client(tenant_a.prefix, scopes="read")
    good = await token_for(local, c)
    url = f"/api/handles?prefix={tenant_a.prefix}"
    assert (await local.get(url, headers=bearer(good))).status_code == 200
    r = await local.put(
        f"/api/handles/{tenant_a.prefix}/X", json=_record("https://e.com"),
        headers={**bearer(_tamper(good)), **JSON},
    )  # fmt: skip
    assert r.status_code == 401
    # Signed by a key this node never had, with a kid it does know.
    header = json.loads(base64.urlsafe_b64decode(good.split(".")[0] + "=="))
    stranger = ECKey.generate_key("P-256")
    now = int(time.time())
    claims = {"iss": tokens.issuer(), "aud": tokens.audience(), "sub": c.client_id}
    claims.update({"scope": "read write", "iat": now, "exp": now + 60})
    forged = jwt.encode(header, claims, stranger)
    assert (await local.get(url, headers=bearer(forged))).status_code == 401
    # Expired: the same token, read a little after its exp.
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 301)
    r = await local.get(url, headers=bearer(good))
    assert r.status_code == 401 and "expired" in r.json()["detail"]


async def test_revoked_client_stops_at_once(local, tenant_a):
    c = await make_client(tenant_a.prefix, scopes="read,write")
    tok = await token_for(local, c)
    assert await _put(local, tenant_a, "R-1", bearer(tok)) == 201
    r = await local.delete(f"/api/clients/{c.client_id}", headers=tenant_a.auth())
    assert r.status_code == 204
    assert await _put(local, tenant_a, "R-2", bearer(tok)) == 401
    r = await local.get(f"/api/handles?prefix={tenant_a.prefix}", headers=bearer(tok))
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    r = await local.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=c.basic())
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"


async def test_rotated_key_still_verifies_old_tokens_until_they_expire(local, tenant_a):
    from tenants.clients.services import keys

    c = await make_client(tenant_a.prefix)
    old = await token_for(local, c)
    old_kid = json.loads(base64.urlsafe_b64decode(old.split(".")[0] + "=="))["kid"]
    new_kid = await keys.rotate(actor="test")
    new = await token_for(local, c)
    assert json.loads(base64.urlsafe_b64decode(new.split(".")[0] + "=="))["kid"] == new_kid
    published = {k["kid"] for k in (await local.get("/.well-known/jwks.json")).json()["keys"]}
    assert {old_kid, new_kid} <= published
    url = f"/api/handles?prefix={tenant_a.prefix}"
    for tok in (old, new):
        assert (await local.get(url, headers=bearer(tok))).status_code == 200
    # Once the old key is past its grace, it is neither published nor accepted.
    from datetime import UTC, datetime

    from core.tenancy import cross_tenant
    from tenants.clients.tables import SigningKey

    async with cross_tenant("node", write=True):
        await (
            SigningKey.update({SigningKey.retired_at: datetime.now(UTC) - keys.retired_grace()})
            .where(SigningKey.kid == old_kid)
            .run()
        )
    await keys.rotate(actor="test")  # reloads (and prunes) in this process
    published = {k["kid"] for k in (await local.get("/.well-known/jwks.json")).json()["keys"]}
    assert old_kid not in published and new_kid in published
    assert (await local.get(url, headers=bearer(old))).status_code == 401
    assert (await local.get(url, headers=bearer(new))).status_code == 200


async def test_ip_allow_list_at_issue_and_on_use(from_address, local, tenant_a):
    c = await make_client(tenant_a.prefix, allowed_ips=("10.1.0.0/16", "2001:db8::/32"))
    form = {"grant_type": "client_credentials"}
    r = await local.post("/oauth/token", data=form, auth=c.basic())  # from 127.0.0.1
    assert r.status_code == 400 and r.json()["error"] == "unauthorized_client"
    async with from_address("10.1.2.3") as inside, from_address("10.2.0.1") as outside:
        tok = await token_for(inside, c)
        url = f"/api/handles?prefix={tenant_a.prefix}"
        assert (await inside.get(url, headers=bearer(tok))).status_code == 200
        r = await outside.get(url, headers=bearer(tok))
        assert r.status_code == 403 and "10.2.0.1" in r.json()["detail"]
    async with from_address("2001:db8::7") as v6:
        assert (await v6.get(url, headers=bearer(tok))).status_code == 200
