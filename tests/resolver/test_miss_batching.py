"""The miss path batches: concurrent misses of one handle are one read (single-flight),
misses of many handles share one query, and each still gets its own record or 404."""

from __future__ import annotations

import asyncio

import pytest
from cache_support import writes_settled

pytestmark = pytest.mark.anyio
JSON = {"Content-Type": "application/json"}


async def _put(client, t, h, url):
    r = await client.put(
        f"/api/handles/{h}",
        json=[{"index": 1, "type": "URL", "data": url}],
        headers={**t.auth(), **JSON},
    )
    assert r.status_code in (200, 201), r.text


async def test_concurrent_misses_of_one_handle_are_one_query(client, app, tenant_a):
    h = f"{tenant_a.prefix}/FLIGHT"
    await _put(client, tenant_a, h, "https://example.com/flight")
    resolver = app.resolver
    await writes_settled(resolver)
    resolver.cache.on_invalidate(f"rec:{h.lower()}")
    queries = resolver.loader.queries
    records = await asyncio.gather(*(resolver.lookup(h) for _ in range(50)))
    # One read; at most a couple more if an invalidation arrives meanwhile (a read begun
    # before an invalidation is never shared with a miss after it).
    assert resolver.loader.queries - queries <= 3
    assert {r.redirect for r in records} == {"https://example.com/flight"}


async def test_misses_of_many_handles_share_queries_and_get_their_own(client, app, tenant_a):
    handles = [f"{tenant_a.prefix}/MANY-{n}" for n in range(40)]
    for n, h in enumerate(handles):
        await _put(client, tenant_a, h, f"https://example.com/many/{n}")
    resolver = app.resolver
    await writes_settled(resolver)
    resolver.cache.on_invalidate(f"tenant:{tenant_a.prefix}")  # empties the cache
    queries = resolver.loader.queries
    missing = f"{tenant_a.prefix}/MANY-NONE"
    results = await asyncio.gather(
        *(resolver.lookup(h) for h in handles), resolver.lookup(missing), return_exceptions=True
    )
    # 41 misses, one query each before. The first MAX_IN_FLIGHT go out at once and the
    # rest gather behind them; how many more rounds that takes depends on when each
    # lookup's own tenant look-up (the cache was emptied) returns: a few, never 41.
    assert resolver.loader.queries - queries <= 10
    for n, record in enumerate(results[:-1]):
        assert record.redirect == f"https://example.com/many/{n}"
    assert type(results[-1]).__name__ == "HandleNotFound"


async def test_a_batch_never_mixes_tenants(client, app, tenant_a, tenant_b):
    ha, hb = f"{tenant_a.prefix}/MIX", f"{tenant_b.prefix}/MIX"
    await _put(client, tenant_a, ha, "https://example.com/a")
    await _put(client, tenant_b, hb, "https://example.com/b")
    resolver = app.resolver
    resolver.cache.on_invalidate("tenant:x")
    gen = resolver.cache.generation
    a, b, cross = await asyncio.gather(
        resolver.lookup(ha), resolver.lookup(hb),
        resolver.loader.read(tenant_a.id, hb.lower(), gen),  # B's row, asked as tenant A
    )  # fmt: skip
    assert a.redirect == "https://example.com/a" and a.tenant_id == tenant_a.id
    assert b.redirect == "https://example.com/b" and b.tenant_id == tenant_b.id
    assert cross is None
