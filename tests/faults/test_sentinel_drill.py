"""The Redis Sentinel drill: a private master, a replica and three Sentinels; ``idnest
serve`` finds the master through Sentinel. Under a write and a resolution load the master
is killed (SIGKILL). Writes and resolutions keep answering, every worker subscribes again
to the new master without a restart, and invalidation works again: an update is seen by
the very next resolution on every worker with the caches in use. A Redis client (the one
sessions use) follows the failover too. ``pytest -s`` prints the figures."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import httpx
import pytest
from fault_support import PrivatePostgres
from sentinel_support import MASTER_NAME, SentinelRedis
from smoke_support import node_env, run_cli, serving

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("IDNEST_TEST_PROFILE", "embedded") != "postgres",
        reason="fault tests run once, on the postgres profile (they start their own services)",
    ),
]
FRESH = 30  # new connections per check, so that both workers answer


def _values(base: str, handle: str) -> set[str]:
    out = set()
    for _ in range(FRESH):
        r = httpx.get(f"{base}/api/handles/{handle}", timeout=10)
        assert r.status_code == 200, r.text
        out.add(r.json()["values"][0]["data"]["value"])
    return out


def _subscribed_everywhere(base: str) -> bool:
    for _ in range(FRESH):
        r = httpx.get(f"{base}/readyz", timeout=10)
        if r.status_code != 200 or "subscription lost" in r.text:
            return False
    return True


def test_sentinel_failover_is_followed_without_a_restart(tmp_path):
    pg, sr = PrivatePostgres(), SentinelRedis()
    stop = threading.Event()
    try:
        work = str(tmp_path)
        # The reader is far over the anonymous per-source budget, and on a fast machine
        # the writer over the key's 200/s (CI saw 105 writes answered 429): the drill
        # measures the failover, not the rate limit (which follows Sentinel like the rest).
        env = node_env(work, database_url=pg.url, redis_sentinels=sr.sentinels,
                       redis_master_name=MASTER_NAME, wire_enabled="false",
                       rate_limit_anonymous="1000000/second",
                       rate_limit_key="1000000/second")  # fmt: skip
        for var in ("IDNEST_REDIS_URL", "IDNEST_MIGRATION_DATABASE_URL"):
            env.pop(var, None)
        prefix = run_cli(work, env, "tenant", "create", "--name", "Sentinel Co").splitlines()[-1]
        key = run_cli(work, env, "apikey", "create", "--tenant", prefix,
                      "--scopes", "read,write").splitlines()[-1]  # fmt: skip
        auth = {"Authorization": f"Bearer {key}"}

        def put(http: httpx.Client, handle: str, url: str) -> int:
            body = {"values": [{"index": 1, "type": "URL", "data": url}]}
            return http.put(f"/api/handles/{handle}", json=body, headers=auth).status_code

        # The client sessions use (portal.web.config), in this process.
        from core import redisconn
        from core.settings import Settings

        settings = Settings(redis_sentinels=sr.sentinels, redis_master_name=MASTER_NAME)

        async def session_roundtrip(write: bool) -> bytes | None:
            # The login throttles' storage (core.throttle) counts through Sentinel too.
            from limits import RateLimitItemPerMinute
            from limits.aio.storage import RedisSentinelStorage
            from limits.aio.strategies import MovingWindowRateLimiter

            uri, options = redisconn.limits_storage_uri(settings)
            storage = RedisSentinelStorage(uri, implementation="redispy", **options)
            assert await MovingWindowRateLimiter(storage).hit(RateLimitItemPerMinute(100), "drill")
            client = redisconn.client(settings)
            try:
                if write:
                    await client.set("drill:session", b"alive")
                    # On the replica before the master dies. WAIT blocks the connection, so
                    # each try stays under the client's socket timeout; a replica still
                    # syncing under load may need several.
                    for _ in range(30):
                        if await client.wait(1, 500) >= 1:
                            break
                return await client.get("drill:session")
            finally:
                await client.aclose()

        assert asyncio.run(session_roundtrip(True)) == b"alive"

        with (
            serving(work, env, "--workers", "2") as base,
            httpx.Client(base_url=base, timeout=15) as http,
        ):
            cached = [f"{prefix}/C-{i}" for i in range(5)]
            for h in cached:
                assert put(http, h, f"https://s.example/{h}") == 201
            for h in cached:
                _values(base, h)  # warm both workers
            counts = {"writes": 0, "write_errors": 0, "reads": 0, "read_errors": 0}
            lock = threading.Lock()

            def writer() -> None:
                i = 0
                with httpx.Client(base_url=base, timeout=15) as c:
                    while not stop.is_set():
                        i += 1
                        try:
                            ok = put(c, f"{prefix}/W-{i}", f"https://s.example/{i}") == 201
                        except httpx.HTTPError:
                            ok = False
                        with lock:
                            counts["writes"] += 1
                            counts["write_errors"] += 0 if ok else 1

            def reader() -> None:
                i = 0
                with httpx.Client(base_url=base, timeout=15) as c:
                    while not stop.is_set():
                        i += 1
                        try:
                            ok = c.get(f"/api/handles/{cached[i % len(cached)]}").status_code == 200
                        except httpx.HTTPError:
                            ok = False
                        with lock:
                            counts["reads"] += 1
                            counts["read_errors"] += 0 if ok else 1

            threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
            for t in threads:
                t.start()
            time.sleep(2)
            old = sr.master()
            killed_at = time.monotonic()
            sr.kill9(old)
            new = sr.wait_failover(old)
            promoted = time.monotonic() - killed_at
            deadline = time.monotonic() + 30
            while not _subscribed_everywhere(base):
                assert time.monotonic() < deadline, "the workers did not subscribe again"
                time.sleep(0.2)
            resubscribed = time.monotonic() - killed_at
            time.sleep(1)
            stop.set()
            for t in threads:
                t.join(30)

            # Invalidation works again, with the caches in use: cached on both workers,
            # updated, and the very next resolution on every worker sees the update.
            handle = f"{prefix}/after"
            assert put(http, handle, "https://s.example/v1") == 201
            assert _values(base, handle) == {"https://s.example/v1"}
            assert put(http, handle, "https://s.example/v2") in (200, 201)
            assert _values(base, handle) == {"https://s.example/v2"}

        figures = {
            **counts,
            "new master": new,
            "seconds to a new master": round(promoted, 1),
            "seconds until every worker subscribed again": round(resubscribed, 1),
        }
        print("\nSentinel failover drill:", figures)
        assert counts["read_errors"] == 0, figures
        assert counts["write_errors"] == 0, figures
        assert asyncio.run(session_roundtrip(False)) == b"alive"  # the session survived
    finally:
        stop.set()
        sr.close()
        pg.close()
