"""Every tenant's admin handle ``{prefix}/admin`` resolves (REFERENCE §1: clients first
GET the user's own handle), its secrets are never shown, and only its tenant changes it."""

from __future__ import annotations

import base64

import pytest

pytestmark = pytest.mark.anyio
JSON = {"Content-Type": "application/json"}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def test_admin_handle_resolves_for_every_tenant(client, tenant_a, tenant_b):
    for t in (tenant_a, tenant_b):
        for path in (f"/api/handles/{t.prefix}/admin", f"/api/handles/{t.prefix}/ADMIN"):
            r = await client.get(path)
            assert r.status_code == 200, path
            body = r.json()
            assert body["handle"] == f"{t.prefix}/admin"
            (admin,) = body["values"]
            assert admin["type"] == "HS_ADMIN"
            assert admin["data"]["value"]["handle"] == f"0.NA/{t.prefix}"
    # only the tenant's own prefix: not a derived prefix, not an unallocated one
    assert (await client.get(f"/api/handles/{tenant_a.prefix}.9/admin")).status_code == 404
    assert (await client.get("/api/handles/88.100.999999/admin")).status_code == 404
    # not listed as a stored handle
    r = await client.get(f"/api/handles?prefix={tenant_a.prefix}", headers=tenant_a.auth())
    assert f"{tenant_a.prefix}/admin" not in r.json()["handles"]


async def test_stored_admin_handle_hides_its_secret_and_authenticates(client, tenant_a, tenant_b):
    h = f"{tenant_a.prefix}/admin"
    values = [
        {"index": 300, "type": "HS_SECKEY", "data": "s3cret-pass"},
        {
            "index": 100,
            "type": "HS_ADMIN",
            "data": {
                "format": "admin",
                "value": {"handle": h, "index": 300, "permissions": "011111110011"},
            },
        },
    ]
    # another tenant cannot provision it
    r = await client.put(f"/api/handles/{h}", json=values, headers={**tenant_b.auth(), **JSON})
    assert r.status_code == 403
    r = await client.put(f"/api/handles/{h}", json=values, headers={**tenant_a.auth(), **JSON})
    assert r.status_code == 201, r.text
    r = await client.get(f"/api/handles/{h}")
    assert r.status_code == 200 and "s3cret-pass" not in r.text
    assert [v["type"] for v in r.json()["values"]] == ["HS_ADMIN"]
    r = await client.get(f"/{h}?noredirect", headers={"Accept": "text/html"})
    assert r.status_code == 200 and "s3cret-pass" not in r.text
    # the secret logs in as 300:{prefix}/admin, and only for this tenant
    auth = basic(f"300:{h}", "s3cret-pass")
    r = await client.get(f"/api/handles?prefix={tenant_a.prefix}", headers=auth)
    assert r.status_code == 200
    r = await client.get(f"/api/handles?prefix={tenant_b.prefix}", headers=auth)
    assert r.status_code == 403
    # deleted, it still resolves as before it was stored
    r = await client.delete(f"/api/handles/{h}", headers=tenant_a.auth())
    assert r.status_code == 200
    r = await client.get(f"/api/handles/{h}")
    assert r.status_code == 200 and [v["index"] for v in r.json()["values"]] == [100]
