"""An SNMS client flow written from REFERENCE §3: login, single writes, batches, detail."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from registry_helpers import snms_login

pytestmark = pytest.mark.anyio


def item(handle: str, url: str = "https://example.com/x", **extra) -> dict:
    return {
        "handle": handle,
        "value": [{"index": 1, "type": "URL", "data": {"format": "string", "value": url}}],
        **extra,
    }


async def test_login_v0_and_v1_and_bad_credentials(client, tenant_a):
    from tenants.identifiers.services.snms import create_account

    await create_account(tenant_a.prefix, "erp-sync", "s3cret-pass-1", actor="test")
    r = await client.post("/identity/token", json={"username": "erp-sync", "password": "nope"})
    assert r.status_code == 200 and r.json()["status"] == -1 and r.json()["data"] is None
    r = await client.post("/identity/token", json={"username": "ghost", "password": "x"})
    assert r.json()["status"] == -1
    r = await client.post("/identity/token", content=b"not json")
    assert r.json()["status"] == -2
    r = await client.post(
        "/identity/token", json={"username": "erp-sync", "password": "s3cret-pass-1"}
    )
    assert r.json()["status"] == 1 and r.json()["data"]["token"]
    # v1: sha256(sha256(pwd) + yyyy-MM-dd), the client's local (China) date
    day = (datetime.now(UTC) + timedelta(hours=8)).date().isoformat()
    inner = hashlib.sha256(b"s3cret-pass-1").hexdigest()
    digest = hashlib.sha256((inner + day).encode()).hexdigest()
    r = await client.post("/identity/token/v1", json={"username": "erp-sync", "password": digest})
    assert r.json()["status"] == 1
    stale = hashlib.sha256((inner + "2001-01-01").encode()).hexdigest()
    r = await client.post("/identity/token/v1", json={"username": "erp-sync", "password": stale})
    assert r.json()["status"] == -1


async def test_not_logged_in_and_forged_token(client, tenant_a):
    r = await client.get(f"/identityv2/data/detail?handle={tenant_a.prefix}/X")
    assert r.status_code == 200 and r.json()["status"] == -1
    r = await client.get(
        f"/identityv2/data/detail?handle={tenant_a.prefix}/X",
        headers={"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x"},
    )
    assert r.json()["status"] == -1


async def test_single_create_update_detail_delete(client, tenant_a):
    auth = await snms_login(client, tenant_a.prefix)
    h = f"{tenant_a.prefix}/SNMS-1"
    body = {
        "handle": h,
        "templateVersion": "core@1",
        "value": [
            {"index": 1, "type": "URL", "data": {"format": "string", "value": "https://e.com/1"}},
            {"index": 2000, "type": "name", "data": {"format": "string", "value": "Widget"}},
            {
                "index": 2,
                "type": "NOTE",
                "data": {"format": "string", "value": "secret"},
                "auth": 1,
            },
        ],
    }
    r = await client.post("/identityv2/data", json=body, headers=auth)
    assert r.json() == {"status": 1, "message": "success", "data": {"handle": h}}
    r = await client.post("/identityv2/data", json=body, headers=auth)
    assert r.json()["status"] == -2 and "already exists" in r.json()["message"]
    r = await client.get(f"/identityv2/data/detail?handle={h}", headers=auth)
    data = r.json()["data"]
    assert data["templateVersion"] == "core@1"
    by_index = {v["index"]: v for v in data["value"]}
    assert by_index[2]["auth"] == 1 and by_index[1]["auth"] == 0
    # the private value is not public
    pub = (await client.get(f"/api/handles/{h}")).json()["values"]
    assert 2 not in {v["index"] for v in pub}
    body["value"][0]["data"]["value"] = "https://e.com/2"
    r = await client.put("/identityv2/data", json=body, headers=auth)
    assert r.json()["status"] == 1
    r = await client.put("/identityv2/data", json={**body, "handle": h + "-missing"}, headers=auth)
    assert r.json()["status"] == -2 and "does not exist" in r.json()["message"]
    # template validation names the item
    bad = {**body, "handle": h + "-bad", "value": body["value"][:1]}
    r = await client.post("/identityv2/data", json=bad, headers=auth)
    assert r.json()["status"] == -2 and "名称" in r.json()["message"]
    r = await client.request("DELETE", "/identityv2/data", json={"handle": h}, headers=auth)
    assert r.json()["status"] == 1
    r = await client.get(f"/identityv2/data/detail?handle={h}", headers=auth)
    assert r.json()["status"] == -2


async def test_batches_answer_per_item_with_some_bad_items(client, tenant_a):
    auth = await snms_login(client, tenant_a.prefix)
    p = tenant_a.prefix
    items = [item(f"{p}/B-{n}") for n in range(5)]
    items.append(item("88.999.1/ELSEWHERE"))  # not served / not ours
    items.append({"handle": f"{p}/B-bad", "value": [{"index": 1, "type": "URL"}]})  # no data
    items.append(item(f"{p}/B-0"))  # duplicate in batch
    items.append({"nohandle": True})
    r = await client.post("/identityv2/data/batchCreate", json=items, headers=auth)
    body = r.json()
    assert body["status"] == -2 and body["message"] == "4 of 9 items failed"
    results = body["data"]
    assert [x["status"] for x in results[:5]] == [1] * 5
    assert all(x["status"] != 1 for x in results[5:])
    assert "twice" in results[7]["msg"] and "data is missing" in results[6]["msg"]
    assert results[5]["handle"] == "88.999.1/ELSEWHERE"
    # create again: every item already exists
    r = await client.post("/identityv2/data/batchCreate", json={"data": items[:2]}, headers=auth)
    assert [x["msg"] for x in r.json()["data"]] == [
        f"handle {p}/B-0 already exists",
        f"handle {p}/B-1 already exists",
    ]
    upd = [item(f"{p}/B-{n}", url="https://e.com/new") for n in range(3)] + [item(f"{p}/NOPE")]
    r = await client.put("/identityv2/data/batchUpdate", json=upd, headers=auth)
    assert [x["status"] for x in r.json()["data"]] == [1, 1, 1, -2]
    rec = (await client.get(f"/api/handles/{p}/B-2?type=URL")).json()
    assert rec["values"][0]["data"]["value"] == "https://e.com/new"
    r = await client.request(
        "DELETE",
        "/identityv2/data/batchDelete",
        json=[{"handle": f"{p}/B-0"}, f"{p}/B-1", {"handle": f"{p}/NOPE"}],
        headers=auth,
    )
    assert [x["status"] for x in r.json()["data"]] == [1, 1, -2]
    assert (await client.get(f"/api/handles/{p}/B-0")).status_code == 404
    r = await client.post(
        "/identityv2/data/batchCreate", json=[item(f"{p}/M{n}") for n in range(2001)], headers=auth
    )
    assert r.json()["status"] == -2 and "at most 2000" in r.json()["message"]


async def test_viewer_cannot_write_and_sees_public_only(client, tenant_a):
    dev = await snms_login(client, tenant_a.prefix)
    viewer = await snms_login(client, tenant_a.prefix, role="viewer")
    h = f"{tenant_a.prefix}/V-1"
    body = {
        "handle": h,
        "value": [
            {"index": 1, "type": "URL", "data": {"format": "string", "value": "https://e.com"}},
            {
                "index": 2,
                "type": "NOTE",
                "data": {"format": "string", "value": "private"},
                "auth": 1,
            },
        ],
    }
    assert (await client.post("/identityv2/data", json=body, headers=dev)).json()["status"] == 1
    r = await client.post("/identityv2/data", json={**body, "handle": h + "x"}, headers=viewer)
    assert r.json()["status"] == -3
    r = await client.get(f"/identityv2/data/detail?handle={h}", headers=viewer)
    assert [v["index"] for v in r.json()["data"]["value"]] == [1, 100]


async def test_tenant_b_cannot_reach_tenant_a(client, tenant_a, tenant_b):
    a = await snms_login(client, tenant_a.prefix)
    b = await snms_login(client, tenant_b.prefix)
    h = f"{tenant_a.prefix}/ISO-1"
    assert (await client.post("/identityv2/data", json=item(h), headers=a)).json()["status"] == 1
    r = await client.get(f"/identityv2/data/detail?handle={h}", headers=b)
    assert r.json()["status"] == -3
    r = await client.put("/identityv2/data", json=item(h, url="https://evil"), headers=b)
    assert r.json()["status"] == -3
    r = await client.request("DELETE", "/identityv2/data", json={"handle": h}, headers=b)
    assert r.json()["status"] == -3
    r = await client.post("/identityv2/data/batchCreate", json=[item(h)], headers=b)
    assert r.json()["data"][0]["status"] == -3
    r = await client.put(
        "/identityv2/data/batchUpdate", json=[item(h, url="https://evil")], headers=b
    )
    assert r.json()["data"][0]["status"] == -3
    r = await client.request("DELETE", "/identityv2/data/batchDelete", json=[h], headers=b)
    assert r.json()["data"][0]["status"] == -3
    rec = (await client.get(f"/api/handles/{h}?type=URL")).json()
    assert rec["values"][0]["data"]["value"] == "https://example.com/x"


async def test_concurrent_overlapping_batches_each_handle_created_once(client, tenant_a):
    import asyncio

    auth = await snms_login(client, tenant_a.prefix)
    p = tenant_a.prefix
    first = [item(f"{p}/OV-{n}") for n in range(0, 60)]
    second = [item(f"{p}/OV-{n}") for n in range(30, 90)]
    r1, r2 = await asyncio.gather(
        client.post("/identityv2/data/batchCreate", json=first, headers=auth),
        client.post("/identityv2/data/batchCreate", json=second, headers=auth),
    )
    ok = [x["handle"] for r in (r1, r2) for x in r.json()["data"] if x["status"] == 1]
    assert sorted(ok) == sorted({f"{p}/OV-{n}" for n in range(90)})  # each exactly once
    dup = [x for r in (r1, r2) for x in r.json()["data"] if x["status"] != 1]
    assert len(dup) == 30 and all("already exists" in x["msg"] for x in dup)


async def test_token_header_and_api_key_also_work(client, tenant_a):
    auth = await snms_login(client, tenant_a.prefix)
    token = auth["Authorization"].split(" ", 1)[1]
    h = f"{tenant_a.prefix}/TOK-1"
    r = await client.post("/identityv2/data", json=item(h), headers={"token": token})
    assert r.json()["status"] == 1
    r = await client.get(f"/identityv2/data/detail?handle={h}", headers=tenant_a.auth())
    assert r.json()["status"] == 1 and r.json()["data"]["handle"] == h


async def test_cli_creates_an_snms_login(client, tenant_a):
    import os
    import subprocess
    import sys

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "portal.cli",
            "snms-user",
            "create",
            "--tenant",
            tenant_a.prefix,
            "--username",
            "cli-user",
            "--role",
            "viewer",
        ],
        input="long-enough-pw\n",
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    r = await client.post(
        "/identity/token", json={"username": "cli-user", "password": "long-enough-pw"}
    )
    assert r.json()["status"] == 1
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "portal.cli",
            "snms-user",
            "create",
            "--tenant",
            tenant_a.prefix,
            "--username",
            "cli-user",
        ],
        input="long-enough-pw\n",
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=60,
    )
    assert again.returncode == 2 and "already exists" in again.stderr
