"""Caching must never be visible: a write shows on the very next read, misses are cached
but a later write still shows, and the fast path answers byte-for-byte like the slow one."""

from __future__ import annotations

import pytest
from cache_support import writes_settled

pytestmark = pytest.mark.anyio
JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def app(settings):
    """The app without its periodic jobs: in a full run a job of the session's shared
    database (state earlier tests left) resolved one more missing handle of the tenant
    inside the counting test, which asserts exact counts of its own requests."""
    from core.bus import set_bus
    from portal.app import create_app

    set_bus(None)
    yield create_app(settings.model_copy(update={"scheduler_enabled": False}))
    set_bus(None)


async def _put(client, t, h, url):
    r = await client.put(
        f"/api/handles/{h}",
        json=[{"index": 1, "type": "URL", "data": url}],
        headers={**t.auth(), **JSON},
    )
    assert r.status_code in (200, 201), r.text


async def test_update_is_visible_on_the_next_read(client, app, tenant_a):
    h = f"{tenant_a.prefix}/FRESH"
    await _put(client, tenant_a, h, "https://example.com/v1")
    for n in range(2, 6):
        assert f"v{n - 1}" in (await client.get(f"/api/handles/{h}")).text  # cached now
        await _put(client, tenant_a, h, f"https://example.com/v{n}")
        assert f"https://example.com/v{n}" in (await client.get(f"/api/handles/{h}")).text
        r = await client.get(f"/{h}", follow_redirects=False)
        assert r.headers["location"] == f"https://example.com/v{n}"


async def test_cached_miss_is_invalidated_by_a_write(client, app, tenant_a):
    h = f"{tenant_a.prefix}/LATER"
    assert (await client.get(f"/api/handles/{h}")).status_code == 404  # negative entry cached
    assert (await client.get(f"/api/handles/{h}")).status_code == 404
    await _put(client, tenant_a, h, "https://example.com/now")
    assert (await client.get(f"/api/handles/{h}")).status_code == 200


async def test_delete_is_visible_at_once(client, app, tenant_a):
    h = f"{tenant_a.prefix}/GONE"
    await _put(client, tenant_a, h, "https://example.com/x")
    assert (await client.get(f"/api/handles/{h}")).status_code == 200
    r = await client.delete(f"/api/handles/{h}", headers=tenant_a.auth())
    assert r.status_code == 200
    assert (await client.get(f"/api/handles/{h}")).status_code == 404
    assert (await client.get(f"/{h}", follow_redirects=False)).status_code == 404


async def test_fast_path_and_framework_answer_the_same(client, app, tenant_a):
    h = f"{tenant_a.prefix}/SAME"
    await _put(client, tenant_a, h, "https://example.com/same")
    await writes_settled(app.resolver)
    first = await client.get(f"/api/handles/{h}")  # a miss: answered by Litestar
    resolver = app.resolver
    hits_before = resolver.cache.hits
    second = await client.get(f"/api/handles/{h}")  # a hit: answered by the fast path
    assert resolver.cache.hits == hits_before + 1
    assert first.content == second.content
    assert first.status_code == second.status_code == 200
    assert second.headers["content-type"] == "application/json"


async def test_resolutions_are_counted_in_memory_and_flushed(client, app, tenant_a):
    from core import usage

    h = f"{tenant_a.prefix}/COUNT"
    await _put(client, tenant_a, h, "https://example.com/c")
    for _ in range(5):
        await client.get(f"/api/handles/{h}")
    await client.get(f"/api/handles/{tenant_a.prefix}/MISSING")
    month = usage.month_of(usage.now())
    before = await usage.tenant_month(tenant_a.id, month)
    assert (before.resolutions, before.not_found) == (0, 0)  # nothing written per resolution
    await app.resolver.counters.flush()
    after = await usage.tenant_month(tenant_a.id, month)
    assert (after.registrations, after.resolutions, after.not_found) == (1, 5, 1)
