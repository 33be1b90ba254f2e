"""Managing GS1 links through the API: validation and isolation."""

from __future__ import annotations

import pytest
from schemes_helpers import JSON, add_link, gtin

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "field,value,needle",
    [
        ("link_type", "gs1:notAType", "not a GS1 Web Vocabulary link type"),
        ("link_type", "pip", "give a GS1 link type"),
        ("href", "javascript:alert(1)", "http(s) URL"),
        ("href", "https://", "http(s) URL"),
        ("language", "english!", "language tag"),
        ("context", "a b", "context value"),
        ("media_type", "html", "media type"),
        ("key", "/01/123", "GTIN must be"),
    ],
)
async def test_bad_link_fields_are_400(client, tenant_a, gs1_a, field, value, needle):
    body = {"key": f"/01/{gtin(gs1_a)}", "link_type": "gs1:pip", "href": "https://x.example/"}
    body[field] = value
    r = await client.post("/api/v1/gs1/links", json=body, headers={**tenant_a.auth(), **JSON})
    assert r.status_code == 400, r.text
    assert needle in r.json()["detail"]


async def test_same_variant_twice_is_409_and_patch_updates(client, tenant_a, gs1_a):
    key = f"/01/{gtin(gs1_a)}"
    r = await add_link(client, tenant_a, key, "https://x.example/1")
    link_id = r.json()["id"]
    assert (await add_link(client, tenant_a, key, "https://x.example/2")).status_code == 409
    r = await client.patch(
        f"/api/v1/gs1/links/{link_id}",
        json={"href": "https://x.example/3", "title": "T"},
        headers={**tenant_a.auth(), **JSON},
    )
    assert r.status_code == 200 and r.json()["href"] == "https://x.example/3"
    assert (await client.get(key)).headers["location"] == "https://x.example/3"
    r = await client.patch(
        f"/api/v1/gs1/links/{link_id}", json={"is_default": False},
        headers={**tenant_a.auth(), **JSON},
    )  # fmt: skip
    assert r.status_code == 400  # a key keeps exactly one default


async def test_another_tenant_cannot_touch_links(client, tenant_a, tenant_b, gs1_a):
    key = f"/01/{gtin(gs1_a)}"
    link_id = (await add_link(client, tenant_a, key, "https://x.example/1")).json()["id"]
    auth_b = {**tenant_b.auth(), **JSON}
    assert (await client.get(f"/api/v1/gs1/links/{link_id}", headers=auth_b)).status_code == 404
    r = await client.patch(
        f"/api/v1/gs1/links/{link_id}", json={"href": "https://evil.example/"}, headers=auth_b
    )
    assert r.status_code == 404
    assert (await client.delete(f"/api/v1/gs1/links/{link_id}", headers=auth_b)).status_code == 404
    r = await client.get(f"/api/v1/gs1/links?key={key}", headers=auth_b)
    assert r.json()["links"] == []
    assert (await client.get(key)).headers["location"] == "https://x.example/1"
