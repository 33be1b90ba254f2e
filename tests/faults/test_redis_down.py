"""Redis goes away under a two-process node (a private Redis, killed): requests keep
working on the database, no process serves a record another one has changed (caches step
aside), and when Redis is back cross-process invalidation resumes without a restart."""

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
READS = 24  # enough that both worker processes answer some


def _put(base: str, key: str, handle: str, url: str) -> httpx.Response:
    return httpx.put(
        f"{base}/api/handles/{handle}",
        headers={"Authorization": f"Bearer {key}"},
        json={"values": [{"index": 1, "type": "URL", "data": url}]},
        timeout=30,
    )


def _seen(base: str, handle: str) -> set[str]:
    """The URLs a run of fresh connections (spread over the workers) answers."""
    out = set()
    for _ in range(READS):
        with httpx.Client(timeout=10) as c:  # a new connection: any worker may take it
            r = c.get(f"{base}/api/handles/{handle}")
        assert r.status_code == 200, r.text
        out.add(r.json()["values"][0]["data"]["value"])
    return out


def test_redis_down_caches_step_aside_then_invalidation_resumes(tmp_path):
    pg, redis = PrivatePostgres(), PrivateRedis()
    try:
        work = tmp_path / "node"
        work.mkdir()
        env, prefix, key = private_node(work, "Bus Co", database_url=pg.url, redis_url=redis.url)
        h = f"{prefix}/R-1"
        with serving(str(work), env, "--workers", "2") as base:
            assert _put(base, key, h, "https://example.com/v1").status_code == 201
            assert _seen(base, h) == {"https://example.com/v1"}  # cached in both workers

            redis.kill9()
            time.sleep(0.5)
            r = _put(base, key, h, "https://example.com/v2")
            assert r.status_code == 200, r.text  # the write does not need Redis
            assert _seen(base, h) == {"https://example.com/v2"}  # no worker kept v1
            ready = httpx.get(f"{base}/readyz", timeout=10).json()
            assert ready["redis"] != "ok"

            redis.start()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with httpx.Client(timeout=10) as c:
                    if c.get(f"{base}/readyz").json().get("redis") == "ok":
                        break
                time.sleep(0.5)
            else:
                pytest.fail("the node did not see Redis again")
            time.sleep(6)  # every worker's subscription is back (reconnect backoff ≤ 5 s)
            assert _seen(base, h) == {"https://example.com/v2"}  # caches warm again
            assert _put(base, key, h, "https://example.com/v3").status_code == 200
            assert _seen(base, h) == {"https://example.com/v3"}  # invalidation reached all
    finally:
        redis.close()
        pg.close()
