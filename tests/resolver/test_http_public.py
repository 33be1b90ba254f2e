"""Public resolution as caches, browsers and offline users see it: Vary, no cookies,
readable HS_ADMIN values, and API docs that need no other host."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.anyio
JSON = {"Content-Type": "application/json"}


async def _record(client, tenant, suffix: str, url: bool = True) -> str:
    handle = f"{tenant.prefix}/{suffix}"
    values = [{"index": 2, "type": "EMAIL", "data": "ops@example.com"}]
    if url:
        values.append({"index": 1, "type": "URL", "data": "https://example.com/v"})
    r = await client.put(f"/api/handles/{handle}", json=values, headers={**tenant.auth(), **JSON})
    assert r.status_code == 201
    return handle


async def test_negotiated_record_sends_vary_accept(client, tenant_a):
    handle = await _record(client, tenant_a, "VARY-1")
    html = await client.get(f"/{handle}?noredirect", headers={"Accept": "text/html"})
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "accept" in html.headers["vary"].lower()
    js = await client.get(f"/{handle}?noredirect", headers={"Accept": "application/json"})
    assert js.status_code == 200 and js.json()["handle"] == handle
    assert "accept" in js.headers["vary"].lower()
    # A record without a URL is shown without ?noredirect: negotiated too.
    bare = await _record(client, tenant_a, "VARY-2", url=False)
    r = await client.get(f"/{bare}", headers={"Accept": "text/html"})
    assert r.status_code == 200 and "accept" in r.headers["vary"].lower()


async def test_public_resolution_sets_no_cookie(client, tenant_a):
    handle = await _record(client, tenant_a, "COOKIE-1")
    paths = [
        f"/{handle}",
        f"/{handle}?noredirect",
        f"/api/handles/{handle}",
        f"/api/handles/{handle}?type=URL",
        f"/api/handles/{tenant_a.prefix}/missing",
        f"/{tenant_a.prefix}/missing",
        "/oid/2.999.1.2",
        "/ecode/10012345678901234",
        "/vaa/ABC",
    ]
    for path in paths:
        for accept in ("text/html", "application/json"):
            r = await client.get(path, headers={"Accept": accept})
            assert "set-cookie" not in r.headers, (path, r.status_code, r.headers["set-cookie"])
            client.cookies.clear()
    # The portal still sets its CSRF cookie where forms live.
    r = await client.get("/login")
    assert "idnest_csrf" in r.headers.get("set-cookie", "")


async def test_hs_admin_is_shown_as_admin_data(client, tenant_a):
    handle = await _record(client, tenant_a, "ADMIN-1")
    r = await client.get(f"/{handle}?noredirect", headers={"Accept": "text/html"})
    text = r.text
    assert "{&#39;handle&#39;" not in text and "{'handle'" not in text
    assert f"200:0.NA/{tenant_a.prefix}" in text
    assert "add handle" in text and "delete handle" in text and "read values" in text
    # list handles is off in the default mask (bit 0)
    assert "list handles" not in text


async def test_api_docs_need_no_other_host(client):
    r = await client.get("/schema")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", r.text)
    assert refs, "the page references its script and style"
    external = [u for u in refs if re.match(r"^(https?:)?//", u)]
    assert external == [], external
    assert "fonts.googleapis" not in r.text and "cdn" not in r.text.lower()
    for url in refs:  # every script, style and icon is served here
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, url
    assert "SwaggerUIBundle" in (await client.get("/schema-ui/swagger-ui-bundle.js")).text
    spec = await client.get("/schema/openapi.json")
    assert spec.status_code == 200 and spec.json()["info"]["title"] == "idnest"
