"""PostgreSQL goes away under a serving node (a private cluster, really stopped): cached
records keep resolving, writes and uncached names answer 503 problem+json at once, /readyz
says why; with Redis gone as well the cached copies are served as stale (counted in
/metrics); when both are back everything recovers without a restart."""

from __future__ import annotations

import os
import time

import httpx
import pytest
from fault_support import PrivatePostgres, PrivateRedis, private_node
from smoke_support import serving

pytestmark = pytest.mark.skipif(
    os.environ.get("IDNEST_TEST_PROFILE", "embedded") != "postgres",
    reason="fault tests run once, on the postgres profile (they start their own services)",
)

# A write while the database is away must be refused within this (connect refused is
# immediate; the pool's connect timeout bounds the rest).
WRITE_DEADLINE = 6.0


def _put(base: str, key: str, handle: str, url: str) -> httpx.Response:
    return httpx.put(
        f"{base}/api/handles/{handle}",
        headers={"Authorization": f"Bearer {key}"},
        json={"values": [{"index": 1, "type": "URL", "data": url}]},
        timeout=30,
    )


def _stale_served(base: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("idnest_serve_stale_total")
    )


@pytest.fixture
def services():
    pg = PrivatePostgres()
    redis = PrivateRedis()
    try:
        yield pg, redis
    finally:
        redis.close()
        pg.close()


def test_database_down_serves_cached_refuses_writes_then_recovers(tmp_path, services):
    pg, redis = services
    work = tmp_path / "node"
    work.mkdir()
    env, prefix, key = private_node(work, "Fault Pumps", database_url=pg.url, redis_url=redis.url)
    handles = [f"{prefix}/F-{n}" for n in range(3)]
    with serving(str(work), env) as base:
        for n, h in enumerate(handles):
            assert _put(base, key, h, f"https://example.com/f/{n}").status_code == 201
        for h in handles:  # warm the cache
            assert httpx.get(f"{base}/api/handles/{h}", timeout=10).status_code == 200
        stale_before = _stale_served(base)

        pg.stop()
        for n, h in enumerate(handles):
            r = httpx.get(f"{base}/api/handles/{h}", timeout=10)
            assert r.status_code == 200, r.text
            assert r.json()["values"][0]["data"]["value"] == f"https://example.com/f/{n}"
        started = time.monotonic()
        r = _put(base, key, f"{prefix}/F-NEW", "https://example.com/new")
        took = time.monotonic() - started
        assert r.status_code == 503, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "database" in r.json()["detail"].lower()
        assert took < WRITE_DEADLINE, f"the refusal took {took:.1f} s"
        ready = httpx.get(f"{base}/readyz", timeout=10)
        assert ready.status_code == 503 and ready.json()["database"].startswith("unreachable")
        # Never-cached names cannot be answered; they are refused, not a 500.
        miss = httpx.get(f"{base}/api/handles/{prefix}/NEVER-SEEN", timeout=10)
        assert miss.status_code == 503, miss.text

        # Redis goes too: caches step aside (no invalidation can reach them), so each read
        # tries the database, fails, and falls back to the cached copy, counted as stale.
        redis.kill9()
        for n, h in enumerate(handles):
            r = httpx.get(f"{base}/api/handles/{h}", timeout=10)
            assert r.status_code == 200, r.text
            assert r.json()["values"][0]["data"]["value"] == f"https://example.com/f/{n}"
        assert _stale_served(base) >= stale_before + len(handles)

        redis.start()
        pg.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if httpx.get(f"{base}/readyz", timeout=10).status_code == 200:
                break
            time.sleep(0.5)
        else:
            pytest.fail("/readyz did not recover")
        r = _put(base, key, f"{prefix}/F-NEW", "https://example.com/new")
        assert r.status_code == 201, r.text
        fresh = httpx.get(f"{base}/api/handles/{prefix}/F-NEW", timeout=10).json()
        assert fresh["values"][0]["data"]["value"] == "https://example.com/new"
