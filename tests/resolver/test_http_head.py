"""HEAD wherever GET is served (RFC 9110), a 405 with ``Allow``, for every route.

The routes come from the application's own router, so a route added later is checked
without anyone remembering to add it here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

pytestmark = pytest.mark.anyio
JSON = {"Content-Type": "application/json"}
# Headers that legitimately differ between two answers to the same request.
_VOLATILE = {"date", "set-cookie", "x-request-id"}
# Routes whose body is live data (the node's own counters), so its length is not stable.
_LIVE_BODIES = {"/metrics"}


def litestar_app(app: Any) -> Any:
    while not hasattr(app, "routes"):
        app = app.app
    return app


def concrete(path: str, prefix: str) -> str:
    """A request path for a route template, with its parameters filled in."""
    values = {"path": f"{prefix}/HEAD-1", "int": "1"}

    def fill(m: re.Match[str]) -> str:
        name, kind = m.group(1), m.group(2)
        if kind in values:
            return values[kind]
        return prefix if name == "prefix" else "x"

    return re.sub(r"\{(\w+):(\w+)\}", fill, path)


def get_paths(app: Any, prefix: str) -> list[str]:
    paths = []
    for route in litestar_app(app).routes:
        if "GET" in getattr(route, "methods", ()):
            paths.append(concrete(route.path, prefix))
    return paths


def stable_headers(response: Any) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k not in _VOLATILE}


async def test_every_get_route_answers_head_like_get(app, client, tenant_a):
    handle = f"{tenant_a.prefix}/HEAD-1"
    value = {"index": 1, "type": "URL", "data": "https://example.com/head"}
    r = await client.put(
        f"/api/handles/{handle}", json=[value], headers={**tenant_a.auth(), **JSON}
    )
    assert r.status_code == 201
    paths = get_paths(app, tenant_a.prefix)
    # The doors this issue names are among the routes enumerated.
    for expected in ("/api/handles/", "/oid/", "/ecode/", "/vaa/", "/api/handles"):
        assert any(p.startswith(expected) for p in paths), expected
    assert len(paths) > 40
    for path in paths:
        got = await client.get(path)
        head = await client.head(path)
        assert head.status_code == got.status_code, (path, head.status_code, got.status_code)
        assert head.status_code != 405, path
        assert head.content == b"", path
        if path in _LIVE_BODIES:
            # The counters move between the GET and the HEAD: only the length may differ.
            assert stable_headers(head).keys() == stable_headers(got).keys(), path
            continue
        assert stable_headers(head) == stable_headers(got), path


async def test_head_on_the_fast_path_and_the_framework_path(client, tenant_a):
    handle = f"{tenant_a.prefix}/HEAD-2"
    value = {"index": 1, "type": "URL", "data": "https://example.com/head2"}
    await client.put(f"/api/handles/{handle}", json=[value], headers={**tenant_a.auth(), **JSON})
    for _ in range(2):  # the first fills the cache, the second is answered from it
        got = await client.get(f"/api/handles/{handle}")
        head = await client.head(f"/api/handles/{handle}")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(len(got.content))
        assert head.headers["content-type"] == "application/json"
        proxy = await client.head(f"/{handle}")
        assert proxy.status_code == 302 and proxy.headers["location"] == "https://example.com/head2"
    missing = await client.head(f"/api/handles/{tenant_a.prefix}/NOPE")
    assert missing.status_code == 404 and missing.content == b""


async def test_405_names_the_allowed_methods(client, tenant_a):
    r = await client.post("/api/handles?prefix=x")
    assert r.status_code == 405
    allow = [m.strip() for m in r.headers["allow"].split(",")]
    assert "GET" in allow and "HEAD" in allow and "POST" not in allow
    r = await client.request("TRACE", f"/api/handles/{tenant_a.prefix}/x")
    assert r.status_code == 405
    allow = {m.strip() for m in r.headers["allow"].split(",")}
    assert {"GET", "HEAD", "PUT", "DELETE", "PATCH"} <= allow  # PATCH: the lifecycle
    # A route without GET does not claim HEAD.
    r = await client.head("/logout")
    assert r.status_code == 405 and r.content == b""
    assert "HEAD" not in r.headers["allow"] and "POST" in r.headers["allow"]
