"""Every integer a request carries is bounded, and past the bound the answer is a 400
naming the parameter (never a 500 from a 64-bit overflow, never a runaway loop)."""

from __future__ import annotations

import base64
import time

import pytest

pytestmark = pytest.mark.anyio
JSON = {"Content-Type": "application/json"}
HUGE = "99999999999999999999"  # past 2**64


def _field_named(r, name: str) -> bool:
    body = r.json()
    return name in (body.get("detail", "") + str(body.get("field", "")) + str(body.get("errors")))


async def test_handle_listing_page_is_bounded(client, tenant_a):
    base = f"/api/handles?prefix={tenant_a.prefix}"
    for page in (HUGE, "1000001", "-1", "9" * 5000):
        r = await client.get(f"{base}&page={page}", headers=tenant_a.auth())
        assert r.status_code == 400, (page, r.status_code)
        assert _field_named(r, "page")
    r = await client.get(f"{base}&page=1000000&pageSize=10000", headers=tenant_a.auth())
    assert r.status_code == 200 and r.json()["handles"] == []
    r = await client.get(f"{base}&pageSize={HUGE}", headers=tenant_a.auth())
    assert r.status_code == 400 and _field_named(r, "pageSize")


async def test_value_indices_are_bounded(client, tenant_a):
    h = f"{tenant_a.prefix}/IDX-1"
    body = [{"index": 1, "type": "URL", "data": "https://example.com"}]
    r = await client.put(f"/api/handles/{h}", json=body, headers={**tenant_a.auth(), **JSON})
    assert r.status_code == 201
    for method in ("GET", "DELETE"):
        r = await client.request(method, f"/api/handles/{h}?index={HUGE}", headers=tenant_a.auth())
        assert r.status_code == 400 and _field_named(r, "index"), method
    r = await client.put(
        f"/api/handles/{h}?index={HUGE}", json=body, headers={**tenant_a.auth(), **JSON}
    )
    assert r.status_code == 400 and _field_named(r, "index")
    r = await client.put(
        f"/api/handles/{h}?index={'9' * 5000}", json=body, headers={**tenant_a.auth(), **JSON}
    )
    assert r.status_code == 400
    # the record is untouched by the refused writes
    r = await client.get(f"/api/handles/{h}?index=1")
    assert r.json()["values"][0]["data"]["value"] == "https://example.com"


async def test_scheme_api_pages_and_ids_are_bounded(client, tenant_a):
    for path in (
        f"/api/v1/mappings?page={HUGE}",
        f"/api/v1/schemes/oid/codes?page={HUGE}",
        f"/api/v1/gs1/links/{HUGE}",
    ):
        r = await client.get(path, headers=tenant_a.auth())
        assert r.status_code == 400, (path, r.status_code, r.text)
    r = await client.delete(f"/api/v1/gs1/links/{HUGE}", headers=tenant_a.auth())
    assert r.status_code == 400


async def test_reverse_lookup_and_search_are_bounded(client, tenant_a):
    r = await client.get(f"/hrls/handles?URL=*&page={HUGE}", headers=tenant_a.auth())
    assert r.status_code == 400 and _field_named(r, "page")
    # a deep page would read every skipped hit: refused before the first read
    started = time.monotonic()
    r = await client.get("/hrls/handles?URL=*&page=100&limit=1000", headers=tenant_a.auth())
    assert r.status_code == 400 and "10,000" in r.json()["detail"]
    assert time.monotonic() - started < 2
    cursor = base64.urlsafe_b64encode(f"id:{HUGE}".encode()).decode().rstrip("=")
    r = await client.get(f"/api/search?q=x&cursor={cursor}", headers=tenant_a.auth())
    assert r.status_code == 400 and _field_named(r, "cursor")


async def test_template_lengths_are_bounded(client, tenant_a):
    from core.errors import InvalidValue
    from tenants.templates.services.items import parse_item

    item = {"name": "model", "idType": "model", "idIndex": 2001, "metadata": {"type": "string"}}
    for bad in (10**30, -1, True):
        raw = {**item, "metadata": {"type": "string", "maxLength": bad}}
        with pytest.raises(InvalidValue, match="maxLength"):
            parse_item(raw, 0)
    parse_item({**item, "metadata": {"type": "string", "maxLength": 64}}, 0)
    with pytest.raises(InvalidValue, match="idIndex"):
        parse_item({**item, "idIndex": 10**30}, 0)


async def test_template_version_in_a_reference_is_bounded(client):
    from core.errors import InvalidValue
    from tenants.templates.services.templates import split_ref

    assert split_ref("boiler@3") == ("boiler", 3)
    for ref in (f"boiler@{HUGE}", "boiler@2147483648", "boiler@" + "9" * 5000):
        with pytest.raises(InvalidValue, match="template"):
            split_ref(ref)
