"""Private ↔ public mapping: one by one, in bulk, resolved either way, per tenant."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from schemes_helpers import JSON, gtin, register

pytestmark = pytest.mark.anyio


async def put_handle(client, t, suffix, restricted=False):
    handle = f"{t.prefix}/{suffix}"
    values = [{"index": 1, "type": "URL", "data": "https://brand.example/" + suffix}]
    if restricted:
        values.append({"index": 5, "type": "COST", "data": "12.50", "permissions": "1100"})
    r = await client.put(f"/api/handles/{handle}", json=values, headers={**t.auth(), **JSON})
    assert r.status_code in (200, 201), r.text
    return handle


async def map_one(client, t, private, public, key=None):
    return await client.post(
        "/api/v1/mappings",
        json={"private_code": private, "public": public},
        headers={**t.auth(key), **JSON},
    )


async def resolve(client, t, key=None, **params):
    return await client.get("/api/v1/mappings/resolve", params=params, headers=t.auth(key))


async def test_map_and_resolve_both_ways(client, tenant_a):
    handle = await put_handle(client, tenant_a, "PUMP-1", restricted=True)
    r = await map_one(client, tenant_a, "ERP-0001", handle)
    assert r.status_code == 201 and r.json()["status"] == "created"
    r = await resolve(client, tenant_a, private="ERP-0001")
    assert r.status_code == 200
    body = r.json()
    assert body["handle"] == handle and body["public"] == handle
    # the tenant's own view: restricted values included, as with its Handle API access
    assert {v["type"] for v in body["values"]} >= {"URL", "COST"}
    r = await resolve(client, tenant_a, key=tenant_a.read_key, public=handle)
    assert [m["privateCode"] for m in r.json()["mappings"]] == ["ERP-0001"]


async def test_remap_unchanged_and_delete(client, tenant_a):
    h1 = await put_handle(client, tenant_a, "A1")
    h2 = await put_handle(client, tenant_a, "A2")
    await map_one(client, tenant_a, "MES 7", h1)
    r = await map_one(client, tenant_a, "MES 7", h1)
    assert r.status_code == 200 and r.json()["status"] == "unchanged"
    r = await map_one(client, tenant_a, "MES 7", h2)
    assert r.json()["status"] == "updated"
    assert (await resolve(client, tenant_a, private="MES 7")).json()["handle"] == h2
    r = await client.delete(
        "/api/v1/mappings", params={"private": "MES 7"}, headers=tenant_a.auth()
    )
    assert r.status_code == 200
    assert (await resolve(client, tenant_a, private="MES 7")).status_code == 404


async def test_map_to_a_gs1_key(client, tenant_a, gs1_a):
    g = gtin(gs1_a)
    handle = (await register(client, tenant_a, "gs1", f"/01/{g}")).json()["handle"]
    r = await map_one(client, tenant_a, "SKU-9", f"gs1:/01/{g[1:]}")
    assert r.status_code == 201
    assert r.json()["public"] == f"gs1:/01/{g}" and r.json()["handle"] == handle
    r = await resolve(client, tenant_a, public=f"gs1:/01/{g}")
    assert [m["privateCode"] for m in r.json()["mappings"]] == ["SKU-9"]
    r = await map_one(client, tenant_a, "SKU-10", f"gs1:/01/{gtin(gs1_a, 2)}")
    assert r.status_code == 404  # not registered
    r = await map_one(client, tenant_a, "SKU-11", "gs1:/01/123")
    assert r.status_code == 400


async def test_bulk_gives_exact_per_item_results(client, tenant_a, tenant_b):
    h = await put_handle(client, tenant_a, "B1")
    other = await put_handle(client, tenant_b, "B-OTHER")
    items = [
        {"private_code": "C-1", "public": h},
        {"private_code": "", "public": h},
        {"private_code": "C-3", "public": other},
        {"private_code": "C-1", "public": h},
        {"private_code": "C-5", "public": "no-slash"},
        {"private_code": "C-6", "public": h, "extra": True},
        "not an object",
        {"private_code": "C-8", "public": h},
    ]
    r = await client.post("/api/v1/mappings/bulk", json=items, headers={**tenant_a.auth(), **JSON})
    assert r.status_code == 200
    results = r.json()["results"]
    assert [x["index"] for x in results] == list(range(8))
    assert [x["status"] for x in results] == [
        "created", "error", "error", "error", "error", "error", "error", "created"
    ]  # fmt: skip
    assert results[1]["error"]["field"] == "private_code"
    assert results[2]["error"]["status"] == 403
    assert "appears twice" in results[3]["error"]["detail"]
    assert results[4]["error"]["status"] == 400
    assert r.json()["counts"] == {"created": 2, "error": 6}
    listed = (await client.get("/api/v1/mappings", headers=tenant_a.auth())).json()
    assert [m["privateCode"] for m in listed["mappings"]] == ["C-1", "C-8"]
    r = await client.post(
        "/api/v1/mappings/bulk", json={"a": 1}, headers={**tenant_a.auth(), **JSON}
    )
    assert r.status_code == 400


async def test_mappings_are_per_tenant(client, tenant_a, tenant_b):
    ha = await put_handle(client, tenant_a, "P1", restricted=True)
    hb = await put_handle(client, tenant_b, "P1")
    await map_one(client, tenant_a, "SAME-CODE", ha)
    # B's private code of the same name is its own
    assert (await map_one(client, tenant_b, "SAME-CODE", hb)).status_code == 201
    assert (await resolve(client, tenant_b, private="SAME-CODE")).json()["handle"] == hb
    assert (await resolve(client, tenant_a, private="SAME-CODE")).json()["handle"] == ha
    # B cannot map to A's handle, nor look up A's public identifier or delete A's mapping
    r = await map_one(client, tenant_b, "X", ha)
    assert r.status_code == 403
    assert (await resolve(client, tenant_b, public=ha)).status_code == 403
    await client.delete(
        "/api/v1/mappings", params={"private": "SAME-CODE"}, headers=tenant_b.auth()
    )
    assert (await resolve(client, tenant_a, private="SAME-CODE")).status_code == 200
    listed = (await client.get("/api/v1/mappings", headers=tenant_b.auth())).json()
    assert listed["totalCount"] == 0


async def test_permissions_match_the_handle_api(client, tenant_a):
    h = await put_handle(client, tenant_a, "R1")
    assert (await map_one(client, tenant_a, "R", h, key=tenant_a.read_key)).status_code == 403
    r = await client.post("/api/v1/mappings", json={"private_code": "R", "public": h}, headers=JSON)
    assert r.status_code == 401
    assert (await client.get("/api/v1/mappings/resolve?private=R")).status_code == 401
    assert (await resolve(client, tenant_a)).status_code == 400  # neither side given


async def test_cli_imports_a_csv(client, tenant_a, tmp_workdir):
    h = await put_handle(client, tenant_a, "CSV-1")
    path = os.path.join(tmp_workdir, "map.csv")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f"private_code,public\nK-1,{h}\nK-2,88.999/NOPE\n")
    done = subprocess.run(
        [sys.executable, "-m", "portal.cli", "mapping", "import", "--tenant", tenant_a.prefix,
         path],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )  # fmt: skip
    assert done.returncode == 1  # one row failed, and says so
    assert "row 2" in done.stderr
    assert done.stdout.split() == ["created=1", "error=1"]
    assert (await resolve(client, tenant_a, private="K-1")).json()["handle"] == h
