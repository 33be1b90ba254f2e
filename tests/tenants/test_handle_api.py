"""The Handle.net REST dialect, as pyhandle/b2handle-style clients use it (REFERENCE §1)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

pytestmark = pytest.mark.anyio
JSON = {"Content-Type": "application/json"}


def url_value(index: int = 1, url: str = "https://example.com/p/1") -> dict[str, Any]:
    return {"index": index, "type": "URL", "data": {"format": "string", "value": url}}


async def put(
    client: Any, t: Any, handle: str, body: Any, key: str | None = None, params: str = ""
) -> Any:
    return await client.put(
        f"/api/handles/{handle}{params}", json=body, headers={**t.auth(key), **JSON}
    )


async def test_create_answers_201_then_resolves_with_timestamps(client, tenant_a):
    h = f"{tenant_a.prefix}/PUMP-0001"
    r = await put(
        client,
        tenant_a,
        h,
        {"values": [url_value(), {"index": 2, "type": "EMAIL", "data": "ops@example.com"}]},
        params="?overwrite=false",
    )
    assert r.status_code == 201
    assert r.json() == {"responseCode": 1, "handle": h}

    r = await client.get(f"/api/handles/{h}")
    assert r.status_code == 200
    body = r.json()
    assert body["responseCode"] == 1 and body["handle"] == h
    by_index = {v["index"]: v for v in body["values"]}
    assert by_index[1]["data"] == {"format": "string", "value": "https://example.com/p/1"}
    # bare-string data was accepted and stored as a string value
    assert by_index[2]["data"] == {"format": "string", "value": "ops@example.com"}
    assert all(v["timestamp"].endswith("Z") and "ttl" in v for v in body["values"])
    # a default HS_ADMIN was added because none was given
    admin = [v for v in body["values"] if v["type"] == "HS_ADMIN"]
    assert len(admin) == 1
    assert admin[0]["data"]["format"] == "admin"
    assert admin[0]["data"]["value"]["handle"] == f"0.NA/{tenant_a.prefix}"
    assert admin[0]["data"]["value"]["index"] == 200


async def test_overwrite_false_on_existing_handle_is_409_rc_101(client, tenant_a):
    h = f"{tenant_a.prefix}/DUP"
    assert (await put(client, tenant_a, h, [url_value()])).status_code == 201
    r = await put(
        client, tenant_a, h, [url_value(url="https://x.example")], params="?overwrite=false"
    )
    assert r.status_code == 409
    assert r.json()["responseCode"] == 101
    assert r.headers["content-type"].startswith("application/problem+json")
    # the original value is untouched
    body = (await client.get(f"/api/handles/{h}?type=URL")).json()
    assert body["values"][0]["data"]["value"] == "https://example.com/p/1"


async def test_replace_without_overwrite_flag_replaces_whole_record(client, tenant_a):
    h = f"{tenant_a.prefix}/REPL"
    await put(client, tenant_a, h, [url_value(), {"index": 2, "type": "EMAIL", "data": "a@b.c"}])
    r = await put(client, tenant_a, h, {"values": [url_value(url="https://new.example")]})
    assert r.status_code == 200 and r.json()["responseCode"] == 1
    values = (await client.get(f"/api/handles/{h}")).json()["values"]
    types = sorted(v["type"] for v in values)
    assert types == ["HS_ADMIN", "URL"]  # EMAIL gone, HS_ADMIN kept


async def test_index_scoped_update_keeps_other_values(client, tenant_a):
    h = f"{tenant_a.prefix}/IDX"
    await put(client, tenant_a, h, [url_value(), {"index": 2, "type": "EMAIL", "data": "a@b.c"}])
    r = await put(
        client, tenant_a, h, [url_value(url="https://example.com/p/2")], params="?index=1"
    )
    assert r.status_code == 200
    values = {v["index"]: v for v in (await client.get(f"/api/handles/{h}")).json()["values"]}
    assert values[1]["data"]["value"] == "https://example.com/p/2"
    assert values[2]["data"]["value"] == "a@b.c"
    # index=various takes the indices from the body, and can add new ones
    r = await put(
        client, tenant_a, h, [{"index": 5, "type": "DESC", "data": "new"}], params="?index=various"
    )
    assert r.status_code == 200
    values = {v["index"] for v in (await client.get(f"/api/handles/{h}")).json()["values"]}
    assert {1, 2, 5} <= values


async def test_index_param_and_body_must_agree(client, tenant_a):
    h = f"{tenant_a.prefix}/AGREE"
    await put(client, tenant_a, h, [url_value()])
    r = await put(client, tenant_a, h, [url_value(index=3)], params="?index=1")
    assert r.status_code == 400 and r.json()["responseCode"] == 202
    assert "index 3" in r.json()["detail"]


async def test_overwrite_false_with_index_refuses_existing_value(client, tenant_a):
    h = f"{tenant_a.prefix}/VAL"
    await put(client, tenant_a, h, [url_value()])
    r = await put(
        client, tenant_a, h, [url_value(url="https://o.example")], params="?index=1&overwrite=false"
    )
    assert r.status_code == 409 and r.json()["responseCode"] == 201


async def test_type_and_index_filters(client, tenant_a):
    h = f"{tenant_a.prefix}/FILTER"
    await put(
        client,
        tenant_a,
        h,
        [
            url_value(),
            {"index": 2, "type": "EMAIL", "data": "a@b.c"},
            {"index": 3, "type": "10320/loc", "data": "<locations/>"},
            {"index": 4, "type": "10320/loc.extra", "data": "x"},
        ],
    )
    r = await client.get(f"/api/handles/{h}?type=EMAIL")
    assert [v["type"] for v in r.json()["values"]] == ["EMAIL"]
    r = await client.get(f"/api/handles/{h}?index=1&index=3")
    assert sorted(v["index"] for v in r.json()["values"]) == [1, 3]
    r = await client.get(f"/api/handles/{h}?type=url")  # type match ignores case
    assert [v["index"] for v in r.json()["values"]] == [1]
    r = await client.get(f"/api/handles/{h}?type=10320/loc.")  # sub-types
    assert sorted(v["index"] for v in r.json()["values"]) == [3, 4]
    r = await client.get(f"/api/handles/{h}?type=NOPE")
    assert r.status_code == 200 and r.json()["responseCode"] == 200 and r.json()["values"] == []
    r = await client.get(f"/api/handles/{h}?index=abc")
    assert r.status_code == 400


async def test_delete_values_then_whole_record(client, tenant_a):
    h = f"{tenant_a.prefix}/DEL"
    await put(client, tenant_a, h, [url_value(), {"index": 2, "type": "EMAIL", "data": "a@b.c"}])
    r = await client.delete(f"/api/handles/{h}?index=2", headers=tenant_a.auth())
    assert r.status_code == 200 and r.json()["responseCode"] == 1
    idx = {v["index"] for v in (await client.get(f"/api/handles/{h}")).json()["values"]}
    assert 2 not in idx and 1 in idx
    r = await client.delete(f"/api/handles/{h}?index=9", headers=tenant_a.auth())
    assert r.status_code == 400 and r.json()["responseCode"] == 200
    r = await client.delete(f"/api/handles/{h}", headers=tenant_a.auth())
    assert r.status_code == 200
    r = await client.get(f"/api/handles/{h}")
    assert r.status_code == 404 and r.json()["responseCode"] == 100
    r = await client.delete(f"/api/handles/{h}", headers=tenant_a.auth())
    assert r.status_code == 404 and r.json()["responseCode"] == 100


async def test_mint_new_suffix(client, tenant_a):
    r = await put(
        client, tenant_a, f"{tenant_a.prefix}/", [url_value()], params="?mintNewSuffix=true"
    )
    assert r.status_code == 201
    minted = r.json()["handle"]
    assert minted.startswith(f"{tenant_a.prefix}/") and len(minted) > len(tenant_a.prefix) + 8
    assert (await client.get(f"/api/handles/{minted}")).status_code == 200
    r = await put(
        client, tenant_a, f"{tenant_a.prefix}/X", [url_value()], params="?mintNewSuffix=true"
    )
    assert r.status_code == 400


async def test_list_handles_with_paging(client, tenant_a):
    for i in range(5):
        await put(client, tenant_a, f"{tenant_a.prefix}/L-{i}", [url_value()])
    r = await client.get(
        f"/api/handles?prefix={tenant_a.prefix}&page=0&pageSize=2", headers=tenant_a.auth()
    )
    body = r.json()
    assert r.status_code == 200 and body["responseCode"] == 1
    assert body["totalCount"] == 5 and body["handles"] == [
        f"{tenant_a.prefix}/L-0",
        f"{tenant_a.prefix}/L-1",
    ]
    r = await client.get(
        f"/api/handles?prefix={tenant_a.prefix}&page=2&pageSize=2", headers=tenant_a.auth()
    )
    assert r.json()["handles"] == [f"{tenant_a.prefix}/L-4"]
    r = await client.get(
        f"/api/handles?prefix={tenant_a.prefix}&pageSize=0", headers=tenant_a.auth()
    )
    assert r.json()["totalCount"] == 5 and "handles" not in r.json()
    r = await client.get(f"/api/handles?prefix={tenant_a.prefix}")
    assert r.status_code == 401 and r.json()["responseCode"] == 402


async def test_lookup_is_case_insensitive_for_ascii_and_keeps_case(client, tenant_a):
    h = f"{tenant_a.prefix}/MixedCase-Ä"
    await put(client, tenant_a, h, [url_value()])
    r = await client.get(f"/api/handles/{tenant_a.prefix}/mixedcase-Ä")
    assert r.status_code == 200 and r.json()["handle"] == h
    r = await client.get(f"/api/handles/{tenant_a.prefix}/mixedcase-ä")
    assert r.status_code == 404


async def test_non_public_values_only_for_the_owner(client, tenant_a, tenant_b):
    h = f"{tenant_a.prefix}/SECRET"
    await put(
        client,
        tenant_a,
        h,
        [url_value(), {"index": 3, "type": "DESC", "data": "internal", "permissions": "1100"}],
    )
    public = (await client.get(f"/api/handles/{h}")).json()["values"]
    assert 3 not in {v["index"] for v in public}
    owner = (
        await client.get(f"/api/handles/{h}?publicOnly=false", headers=tenant_a.auth())
    ).json()["values"]
    restricted = [v for v in owner if v["index"] == 3]
    assert restricted and restricted[0]["permissions"] == "1100"
    other = (
        await client.get(f"/api/handles/{h}?publicOnly=false", headers=tenant_b.auth())
    ).json()["values"]
    assert 3 not in {v["index"] for v in other}


async def test_hs_seckey_is_never_public_and_basic_auth_uses_it(client, tenant_a):
    admin = f"{tenant_a.prefix}/admin"
    r = await put(
        client, tenant_a, admin, [{"index": 300, "type": "HS_SECKEY", "data": "s3cret-passphrase"}]
    )
    assert r.status_code == 201
    # clients GET their own user handle first; it resolves, the secret stays hidden
    r = await client.get(f"/api/handles/{admin}")
    assert r.status_code == 200
    assert "s3cret" not in r.text
    creds = base64.b64encode(f"300:{admin}:s3cret-passphrase".encode()).decode()
    r = await client.put(
        f"/api/handles/{tenant_a.prefix}/BASIC",
        json=[url_value()],
        headers={"Authorization": f"Basic {creds}", **JSON},
    )
    assert r.status_code == 201
    # percent-encoded user, as some clients send it
    user = f"300%3A{tenant_a.prefix}%2Fadmin"
    creds = base64.b64encode(f"{user}:s3cret-passphrase".encode()).decode()
    r = await client.put(
        f"/api/handles/{tenant_a.prefix}/BASIC2",
        json=[url_value()],
        headers={"Authorization": f"Basic {creds}", **JSON},
    )
    assert r.status_code == 201
    bad = base64.b64encode(f"300:{admin}:wrong".encode()).decode()
    r = await client.put(
        f"/api/handles/{tenant_a.prefix}/BASIC3",
        json=[url_value()],
        headers={"Authorization": f"Basic {bad}", **JSON},
    )
    assert r.status_code == 401 and r.json()["responseCode"] == 403


async def test_basic_auth_with_api_key_as_password(client, tenant_a):
    creds = base64.b64encode(f"300:{tenant_a.prefix}/admin:{tenant_a.key}".encode()).decode()
    r = await client.put(
        f"/api/handles/{tenant_a.prefix}/BK",
        json=[url_value()],
        headers={"Authorization": f"Basic {creds}", **JSON},
    )
    assert r.status_code == 201


async def test_x_api_key_header(client, tenant_a):
    r = await client.put(
        f"/api/handles/{tenant_a.prefix}/XK",
        json=[url_value()],
        headers={"X-API-Key": tenant_a.key, **JSON},
    )
    assert r.status_code == 201


async def test_read_scope_cannot_write(client, tenant_a):
    r = await put(client, tenant_a, f"{tenant_a.prefix}/RO", [url_value()], key=tenant_a.read_key)
    assert r.status_code == 403 and r.json()["responseCode"] == 401
    r = await client.get(f"/api/handles/{tenant_a.prefix}/RO")
    assert r.status_code == 404


async def test_missing_unknown_and_revoked_keys_are_401(client, tenant_a):
    from tenants.accounts.services.apikeys import create_key, revoke_key

    h = f"{tenant_a.prefix}/AUTH"
    r = await client.put(f"/api/handles/{h}", json=[url_value()], headers=JSON)
    assert r.status_code == 401 and r.json()["responseCode"] == 402
    r = await client.put(
        f"/api/handles/{h}",
        json=[url_value()],
        headers={"Authorization": "Bearer idn_000000000000_nope", **JSON},
    )
    assert r.status_code == 401 and r.json()["responseCode"] == 403
    key, info = await create_key(tenant_a.prefix, scopes="read,write", actor="test")
    r = await client.put(
        f"/api/handles/{h}", json=[url_value()], headers={"Authorization": f"Bearer {key}", **JSON}
    )
    assert r.status_code == 201  # the key is now cached as valid
    await revoke_key(tenant_a.id, info.key_id, actor="test")
    r = await client.put(
        f"/api/handles/{h}", json=[url_value()], headers={"Authorization": f"Bearer {key}", **JSON}
    )
    assert r.status_code == 401 and "revoked" in r.json()["detail"]


async def test_suspended_tenant_cannot_write_but_still_resolves(client, tenant_a):
    from tenants.accounts.services.tenants import set_status

    h = f"{tenant_a.prefix}/SUSP"
    await put(client, tenant_a, h, [url_value()])
    await set_status(tenant_a.prefix, "suspended", actor="test", reason="unpaid")
    r = await put(client, tenant_a, h, [url_value(url="https://x.example")])
    assert r.status_code == 403 and "suspended" in r.json()["detail"]
    assert (await client.get(f"/api/handles/{h}")).status_code == 200
    await set_status(tenant_a.prefix, "closed", actor="test", reason="left")
    assert (await client.get(f"/api/handles/{h}")).status_code == 404


BAD_BODIES = [
    ('{"values":[', "not valid JSON"),
    (
        '{"values":[{"index":1,"type":"URL","data":{"format":"nonsense","value":1}}]}',
        "unknown data format",
    ),
    (
        '{"values":[{"index":1,"type":"URL","data":"a"},{"index":1,"type":"EMAIL","data":"b"}]}',
        "index 1 appears twice",
    ),
    ('{"values":[{"index":"x","type":"URL","data":"a"}]}', "index must be an integer"),
    ('{"values":[{"index":1,"type":"","data":"a"}]}', "type must be a non-empty string"),
    ('{"values":[{"index":1,"type":"URL"}]}', "data is missing"),
    (
        '{"values":[{"index":1,"type":"B","data":{"format":"base64","value":"!!"}}]}',
        "not valid base64",
    ),
    ('{"values":[{"index":1,"type":"URL","data":"a","permissions":"11"}]}', "permissions"),
    ('{"values":[{"index":100,"type":"HS_ADMIN","data":{"format":"admin","value":{}}}]}', "admin"),
    ('"just a string"', "the body must be"),
]


@pytest.mark.parametrize(("body", "message"), BAD_BODIES)
async def test_bad_bodies_get_400_rc_202_naming_the_problem(client, tenant_a, body, message):
    h = f"{tenant_a.prefix}/BAD"
    r = await client.put(f"/api/handles/{h}", content=body, headers={**tenant_a.auth(), **JSON})
    assert r.status_code == 400, r.text
    assert r.json()["responseCode"] == 202
    assert message in r.json()["detail"]
    assert (await client.get(f"/api/handles/{h}")).status_code == 404  # nothing written


async def test_admin_index_as_string_is_accepted(client, tenant_a):
    h = f"{tenant_a.prefix}/ADMIN-STR"
    r = await put(
        client,
        tenant_a,
        h,
        [
            url_value(),
            {
                "index": 100,
                "type": "HS_ADMIN",
                "data": {
                    "format": "admin",
                    "value": {
                        "handle": f"0.NA/{tenant_a.prefix}",
                        "index": "200",
                        "permissions": "011111110011",
                    },
                },
            },
        ],
    )
    assert r.status_code == 201
    admin = [
        v
        for v in (await client.get(f"/api/handles/{h}")).json()["values"]
        if v["type"] == "HS_ADMIN"
    ]
    assert admin[0]["data"]["value"]["index"] == 200


async def test_wrong_content_type_is_400(client, tenant_a):
    r = await client.put(
        f"/api/handles/{tenant_a.prefix}/CT",
        content='{"values":[]}',
        headers={**tenant_a.auth(), "Content-Type": "text/plain"},
    )
    assert r.status_code == 400 and "Content-Type" in r.json()["detail"]


async def test_bad_handles(client, tenant_a):
    r = await client.get("/api/handles/no-slash-here")
    assert r.status_code == 400 and r.json()["responseCode"] == 102
    long = f"{tenant_a.prefix}/" + "x" * 2100
    r = await client.get(f"/api/handles/{long}")
    assert r.status_code == 400 and "2048" in r.json()["detail"]
    r = await put(client, tenant_a, long, [url_value()])
    assert r.status_code == 400 and r.json()["responseCode"] == 102
    r = await client.get(f"/api/handles/{tenant_a.prefix}/a%01b")
    assert r.status_code == 400 and "control character" in r.json()["detail"]


async def test_prefix_not_served_here_is_rc_301(client, tenant_a):
    # A read answers 404 ("no such handle" to pyhandle), still rc 301 for Handle clients.
    for path in ("/api/handles/20.500.12345/abc", "/api/handles/21.T11148/x"):
        r = await client.get(path)
        assert r.status_code == 404 and r.json()["responseCode"] == 301
        assert "not served here" in r.json()["detail"]
    r = await client.get("/21.T11148/x?noredirect")
    assert r.status_code == 404 and r.json()["responseCode"] == 301
    r = await put(client, tenant_a, "20.500.12345/abc", [url_value()])
    assert r.status_code == 400 and r.json()["responseCode"] == 301
    r = await client.get("/api/handles/88.100.999999/abc")
    assert r.status_code == 404 and "not allocated" in r.json()["detail"]


async def test_proxy_redirects_or_shows_the_record(client, tenant_a):
    h = f"{tenant_a.prefix}/PROXY"
    await put(client, tenant_a, h, [url_value(url="https://example.com/target")])
    r = await client.get(f"/{h}", follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"] == "https://example.com/target"
    r = await client.get(f"/{h}?noredirect", headers={"Accept": "text/html"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "https://example.com/target" in r.text and h in r.text
    r = await client.get(f"/{h}?noredirect", headers={"Accept": "application/json"})
    assert r.json()["handle"] == h
    nourl = f"{tenant_a.prefix}/NOURL"
    await put(client, tenant_a, nourl, [{"index": 2, "type": "EMAIL", "data": "a@b.c"}])
    r = await client.get(
        f"/{nourl}", headers={"Accept": "application/json"}, follow_redirects=False
    )
    assert r.status_code == 200 and r.json()["handle"] == nourl
    r = await client.get(f"/{tenant_a.prefix}/NOPE", follow_redirects=False)
    assert r.status_code == 404


async def test_javascript_urls_are_never_redirected_or_linked(client, tenant_a):
    h = f"{tenant_a.prefix}/XSS"
    await put(client, tenant_a, h, [url_value(url="javascript:alert(1)")])
    r = await client.get(f"/{h}", headers={"Accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 200
    assert 'href="javascript' not in r.text


async def test_openapi_and_health(client):
    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert "/api/handles/{handle}" in paths and "/api/handles" in paths
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    r = await client.get("/readyz")
    assert r.status_code == 200 and r.json()["database"] == "ok"


async def test_unknown_route_is_a_problem_document(client):
    r = await client.get("/nothing-here")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
