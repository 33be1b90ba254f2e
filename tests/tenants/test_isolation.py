"""Tenant isolation on the Handle API: tenant B's credentials against tenant A's data,
for every verb. Each attempt must fail and leave A's record exactly as it was."""

from __future__ import annotations

import base64

import pytest

pytestmark = pytest.mark.anyio
JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def a_record(client, tenant_a):
    h = f"{tenant_a.prefix}/ISO-1"
    r = await client.put(
        f"/api/handles/{h}",
        json=[
            {"index": 1, "type": "URL", "data": "https://a.example/1"},
            {"index": 3, "type": "DESC", "data": "A only", "permissions": "1100"},
        ],
        headers={**tenant_a.auth(), **JSON},
    )
    assert r.status_code == 201
    return h


async def _unchanged(client, tenant_a, h):
    r = await client.get(f"/api/handles/{h}?publicOnly=false", headers=tenant_a.auth())
    values = {v["index"]: v["data"]["value"] for v in r.json()["values"]}
    assert values[1] == "https://a.example/1" and values[3] == "A only"


async def test_b_cannot_create_under_a_prefix(client, tenant_a, tenant_b, a_record):
    r = await client.put(
        f"/api/handles/{tenant_a.prefix}/EVIL",
        json=[{"index": 1, "type": "URL", "data": "https://evil.example"}],
        headers={**tenant_b.auth(), **JSON},
    )
    assert r.status_code == 403 and r.json()["responseCode"] == 401
    assert (await client.get(f"/api/handles/{tenant_a.prefix}/EVIL")).status_code == 404


async def test_b_cannot_replace_or_update_a_record(client, tenant_a, tenant_b, a_record):
    for params in ("", "?index=1", "?index=various", "?overwrite=false"):
        r = await client.put(
            f"/api/handles/{a_record}{params}",
            json=[{"index": 1, "type": "URL", "data": "https://evil.example"}],
            headers={**tenant_b.auth(), **JSON},
        )
        assert r.status_code == 403, params
    await _unchanged(client, tenant_a, a_record)


async def test_b_cannot_delete_a_record_or_its_values(client, tenant_a, tenant_b, a_record):
    for params in ("", "?index=1"):
        r = await client.delete(f"/api/handles/{a_record}{params}", headers=tenant_b.auth())
        assert r.status_code == 403 and r.json()["responseCode"] == 401
    await _unchanged(client, tenant_a, a_record)


async def test_b_cannot_read_a_restricted_values(client, tenant_a, tenant_b, a_record):
    for params in ("?publicOnly=false", "?publicOnly=false&index=3", "?auth=true&publicOnly=false"):
        r = await client.get(f"/api/handles/{a_record}{params}", headers=tenant_b.auth())
        assert r.status_code == 200
        assert "A only" not in r.text, params


async def test_b_cannot_list_a_handles(client, tenant_a, tenant_b, a_record):
    r = await client.get(f"/api/handles?prefix={tenant_a.prefix}", headers=tenant_b.auth())
    assert r.status_code == 403 and "ISO-1" not in r.text


async def test_b_basic_credentials_do_not_open_a(client, tenant_a, tenant_b, a_record):
    # B's API key presented as the password of A's admin user
    creds = base64.b64encode(f"300:{tenant_a.prefix}/admin:{tenant_b.key}".encode()).decode()
    r = await client.delete(f"/api/handles/{a_record}", headers={"Authorization": f"Basic {creds}"})
    assert r.status_code == 401
    await _unchanged(client, tenant_a, a_record)


async def test_same_suffix_in_two_tenants_are_two_records(client, tenant_a, tenant_b):
    for t, url in ((tenant_a, "https://a.example"), (tenant_b, "https://b.example")):
        r = await client.put(
            f"/api/handles/{t.prefix}/SHARED",
            json=[{"index": 1, "type": "URL", "data": url}],
            headers={**t.auth(), **JSON},
        )
        assert r.status_code == 201
    ra = (await client.get(f"/api/handles/{tenant_a.prefix}/SHARED")).json()
    rb = (await client.get(f"/api/handles/{tenant_b.prefix}/SHARED")).json()
    assert "a.example" in str(ra) and "b.example" not in str(ra)
    assert "b.example" in str(rb) and "a.example" not in str(rb)
