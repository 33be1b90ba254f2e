"""Metadata templates: seeded node templates, tenant extensions, versioning, validation."""

from __future__ import annotations

import pytest
from registry_helpers import put_values, snms_login, sv

pytestmark = pytest.mark.anyio


def boiler(model: str = "WNS4-1.25", **extra: str) -> list[dict]:
    values = [
        sv(1, "URL", "https://example.com/b"),
        sv(1001, "templateVersion", "boiler@1"),
        sv(2000, "name", "Steam boiler"),
        sv(2001, "model", model),
    ]
    for index, (k, v) in enumerate(extra.items(), start=2002):
        values.append(sv(index, k, v))
    return values


async def test_seeded_templates_are_listed_with_industry_levels(client, tenant_a):
    auth = await snms_login(client, tenant_a.prefix)
    r = await client.get("/snms/api/v5/template", headers=auth)
    body = r.json()
    assert body["status"] == 1
    by_code = {t["code"]: t for t in body["data"]}
    assert {"core", "boiler", "motor"} <= set(by_code)
    b = by_code["boiler"]
    assert (
        b["industryCategory"],
        b["industrySpecific"],
        b["industryTrade"],
        b["industrySubclass"],
    ) == ("C", "34", "341", "3411")
    assert b["version"] == "boiler@1" and b["type"] == 1
    assert all(i["idIndex"] >= 2000 for i in b["items"])
    r = await client.get("/snms/api/v5/template?version=boiler@1", headers=auth)
    assert [t["code"] for t in r.json()["data"]] == ["boiler"]


async def test_registration_is_validated_and_failure_names_the_item(client, tenant_a):
    h = f"{tenant_a.prefix}/B-1"
    assert (await put_values(client, tenant_a, h, boiler())).status_code == 201
    # required item missing
    values = [v for v in boiler() if v["index"] != 2001]
    r = await put_values(client, tenant_a, h + "x", values)
    assert (
        r.status_code == 400 and "'型号'" in r.json()["detail"] and "required" in r.json()["detail"]
    )
    # too long
    r = await put_values(client, tenant_a, h + "y", boiler(model="M" * 65))
    assert r.status_code == 400 and "at most 64" in r.json()["detail"]
    # enum and number
    bad = boiler()
    bad.append(sv(2003, "fuel", "uranium"))
    r = await put_values(client, tenant_a, h + "z", bad)
    assert (
        r.status_code == 400 and "燃料类型" in r.json()["detail"] and "one of" in r.json()["detail"]
    )
    bad = boiler()
    bad.append(sv(2002, "ratedCapacity", "lots"))
    r = await put_values(client, tenant_a, h + "z", bad)
    assert r.status_code == 400 and "number" in r.json()["detail"]
    # unknown item index
    bad = boiler()
    bad.append(sv(2999, "colour", "red"))
    r = await put_values(client, tenant_a, h + "z", bad)
    assert r.status_code == 400 and "2999" in r.json()["detail"]
    # unknown template
    bad = [sv(1001, "templateVersion", "nosuch@1"), sv(2000, "name", "x")]
    r = await put_values(client, tenant_a, h + "z", bad)
    assert r.status_code == 404 and "nosuch" in r.json()["detail"]
    # nothing of the failed writes exists
    assert (await client.get(f"/api/handles/{h}z")).status_code == 404


async def test_code_without_version_is_pinned_to_latest(client, tenant_a):
    h = f"{tenant_a.prefix}/PIN"
    values = boiler()
    values[1] = sv(1001, "templateVersion", "boiler")
    assert (await put_values(client, tenant_a, h, values)).status_code == 201
    got = (await client.get(f"/api/handles/{h}?index=1001")).json()["values"]
    assert got[0]["data"]["value"] == "boiler@1"


async def test_tenant_extends_template_and_versions_keep_old_records_valid(
    client, tenant_a, tenant_b
):
    auth = await snms_login(client, tenant_a.prefix)
    body = {
        "code": "mypump",
        "name": "Pumps",
        "extends": "core@1",
        "items": [
            {
                "name": "扬程",
                "idType": "head",
                "idIndex": 2100,
                "required": True,
                "state": 1,
                "metadata": {"type": "number"},
            }
        ],
    }
    r = await client.post("/snms/api/v5/template", json=body, headers=auth)
    assert r.json()["status"] == 1, r.text
    v1 = r.json()["data"]
    assert v1["version"] == "mypump@1" and v1["extends"] == "core@1"
    assert {i["idIndex"] for i in v1["items"]} >= {2000, 2100}
    h = f"{tenant_a.prefix}/P-OLD"
    rec = [sv(1001, "templateVersion", "mypump@1"), sv(2000, "name", "P"), sv(2100, "head", "32.5")]
    assert (await put_values(client, tenant_a, h, rec)).status_code == 201

    # deleting an item is refused; disabling it makes it optional in version 2
    r = await client.put(
        "/snms/api/v5/template",
        json={**body, "extends": "", "items": v1["items"][:1]},
        headers=auth,
    )
    assert r.json()["status"] == -2 and "cannot be deleted" in r.json()["message"]
    items = [dict(i) for i in v1["items"]]
    for i in items:
        if i["idIndex"] == 2100:
            i["state"] = 0
    items.append(
        {
            "name": "流量",
            "idType": "flow",
            "idIndex": 2101,
            "required": True,
            "state": 1,
            "metadata": {"type": "int"},
        }
    )
    r = await client.put(
        "/snms/api/v5/template", json={"code": "mypump", "items": items}, headers=auth
    )
    assert r.json()["status"] == 1 and r.json()["data"]["version"] == "mypump@2"
    # the old record still validates against v1 (update keeps 1001 = mypump@1)
    rec[2] = sv(2100, "head", "40")
    assert (await put_values(client, tenant_a, h, rec)).status_code == 200
    # v1 still requires head; v2 requires flow instead
    r = await put_values(
        client, tenant_a, h + "2", [sv(1001, "t", "mypump@2"), sv(2000, "name", "P")]
    )
    assert r.status_code == 400 and "flow" in r.json()["detail"]
    ok = [sv(1001, "t", "mypump@2"), sv(2000, "name", "P"), sv(2101, "flow", "12")]
    assert (await put_values(client, tenant_a, h + "2", ok)).status_code == 201

    # tenant B cannot see or use A's template
    auth_b = await snms_login(client, tenant_b.prefix)
    codes = {
        t["code"]
        for t in (await client.get("/snms/api/v5/template", headers=auth_b)).json()["data"]
    }
    assert "mypump" not in codes
    r = await put_values(client, tenant_b, f"{tenant_b.prefix}/X", ok)
    assert r.status_code == 404
    r = await client.get(f"/snms/api/v5/template?prefix={tenant_a.prefix}", headers=auth_b)
    assert r.json()["status"] == -3


async def test_bad_template_definitions_name_the_item(client, tenant_a):
    auth = await snms_login(client, tenant_a.prefix)
    cases = [
        (
            {"code": "t1", "items": [{"name": "x", "idIndex": 1500}]},
            "idIndex must be an integer >= 2000",
        ),
        (
            {"code": "t1", "items": [{"name": "x", "idIndex": 2000, "metadata": {"type": "blob"}}]},
            "metadata.type",
        ),
        (
            {"code": "t1", "items": [{"name": "x", "idIndex": 2000, "metadata": {"type": "enum"}}]},
            "needs metadata.enum",
        ),
        (
            {
                "code": "t1",
                "items": [{"name": "a", "idIndex": 2000}, {"name": "b", "idIndex": 2000}],
            },
            "also 'a'",
        ),
        ({"code": "t1", "items": []}, "at least one item"),
        (
            {
                "code": "t1",
                "extends": "core@1",
                "items": [{"name": "x", "idType": "other", "idIndex": 2000}],
            },
            "belongs to core@1",
        ),
    ]
    for body, expected in cases:
        r = await client.post("/snms/api/v5/template", json=body, headers=auth)
        assert r.json()["status"] == -2 and expected in r.json()["message"], (body, r.text)
    viewer = await snms_login(client, tenant_a.prefix, role="viewer")
    r = await client.post(
        "/snms/api/v5/template",
        json={"code": "t2", "items": [{"name": "x", "idIndex": 2000}]},
        headers=viewer,
    )
    assert r.json()["status"] == -3


async def test_template_save_retry_with_idempotency_key_writes_one_version(client, tenant_a):
    auth = await snms_login(client, tenant_a.prefix)
    body = {"code": "idem-t", "items": [{"name": "x", "idIndex": 2000}]}
    headers = {**auth, "Idempotency-Key": "tpl-1"}
    r1 = await client.post("/snms/api/v5/template", json=body, headers=headers)
    r2 = await client.post("/snms/api/v5/template", json=body, headers=headers)
    assert r1.json()["data"]["version"] == r2.json()["data"]["version"] == "idem-t@1"
    r3 = await client.post("/snms/api/v5/template", json=body, headers=auth)
    assert r3.json()["data"]["version"] == "idem-t@2"
