"""PostgreSQL high availability on private clusters: a multi-host URL finds the primary; a
write whose primary went away before COMMIT runs once more and is stored once; read
replicas answer resolution misses without breaking "a write is visible to the very next
resolution" (a replica whose replay is paused is never read for what it lacks).

(The Patroni failover drill is tests/faults/test_patroni_drill.py.)"""

from __future__ import annotations

import asyncio
import os
import time

import asyncpg
import httpx
import pytest
from fault_support import PrivatePostgres
from smoke_support import free_port, node_env, run_cli, serving

from core import pgha
from core.replay import ReplayOnFailover

pytestmark = pytest.mark.skipif(
    os.environ.get("IDNEST_TEST_PROFILE", "embedded") != "postgres",
    reason="fault tests run once, on the postgres profile (they start their own services)",
)


@pytest.fixture(scope="module")
def pair():
    primary = PrivatePostgres()
    replica = PrivatePostgres(replica_of=primary)
    try:
        yield primary, replica
    finally:
        replica.close()
        primary.close()


def _multi_host(*ports: int) -> str:
    hosts = ",".join(f"127.0.0.1:{p}" for p in ports)
    return f"postgresql://postgres@{hosts}/postgres?target_session_attrs=read-write"


def test_multi_host_url_finds_the_primary_whatever_the_order(pair):
    primary, replica = pair

    async def run() -> list[bool]:
        eng = pgha.IdnestPostgresEngine(config={"dsn": _multi_host(free_port(), replica.port,
                                                                    primary.port)})  # fmt: skip
        await eng.start_connection_pool(min_size=2, max_size=2)
        try:
            async with eng.transaction() as tx:
                return [await tx.connection.fetchval("SELECT pg_is_in_recovery()")]
        finally:
            await eng.close_connection_pool()

    assert asyncio.run(run()) == [False]  # a dead host and a standby were passed over


def _app(eng: pgha.IdnestPostgresEngine, plan: list[str]):
    """A write door in miniature: each request runs the next step of ``plan`` in one
    transaction and answers 201, or 503 for an unreachable database (as core.http)."""
    from core import db

    async def app(scope, receive, send):
        await receive()
        step = plan.pop(0)
        status = 201
        try:
            if step == "commit-then-lose":
                async with eng.transaction() as tx:
                    await tx.connection.execute("INSERT INTO ledger VALUES ('before')")
            async with eng.transaction() as tx:
                if step in ("lose", "commit-then-lose"):
                    # The server goes away under the open transaction, as in a failover.
                    await tx.connection.execute("SELECT pg_terminate_backend(pg_backend_pid())")
                await tx.connection.execute("INSERT INTO ledger VALUES ('w')")
        except Exception as exc:
            assert db.is_unreachable(exc), exc
            status = 503
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return app


async def _call(app) -> int:
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message):
        sent.append(message)

    await app({"type": "http", "method": "PUT", "path": "/x"}, receive, send)
    starts = [m["status"] for m in sent if m["type"] == "http.response.start"]
    assert len(starts) == 1, sent  # the client sees one answer, whatever ran behind it
    return starts[0]


def test_write_that_lost_the_primary_before_commit_runs_again_once(pair):
    primary, _ = pair

    async def run() -> tuple[list[int], list[str], int]:
        admin = await asyncpg.connect(primary.url)
        await admin.execute("DROP TABLE IF EXISTS ledger; CREATE TABLE ledger (v text)")
        eng = pgha.IdnestPostgresEngine(config={"dsn": primary.url})
        await eng.start_connection_pool(min_size=1, max_size=2)
        try:
            plan = ["lose", "ok", "commit-then-lose", "lose", "lose"]
            door = ReplayOnFailover(_app(eng, plan), delay=0)
            statuses = [await _call(door), await _call(door), await _call(door)]
            rows = [r["v"] for r in await admin.fetch("SELECT v FROM ledger")]
            # The pool still works: no connection was leaked by the lost transactions.
            for _ in range(4):
                async with eng.transaction() as tx:
                    await tx.connection.fetchval("SELECT 1")
            return statuses, rows, door.replayed
        finally:
            await eng.close_connection_pool()
            await admin.close()

    statuses, rows, replayed = asyncio.run(run())
    # 1st request: lost, run again ("ok"), stored once. 2nd: a transaction had committed
    # before the loss, so it is not run again (that would repeat 'before'): 503. 3rd: lost
    # twice; run again once only, then 503.
    assert statuses == [201, 503, 503]
    assert sorted(rows) == ["before", "w"]
    assert replayed == 2


def test_resolution_reads_fresh_replicas_and_never_a_lagging_one(pair, tmp_path):
    primary, replica = pair
    env = node_env(str(tmp_path), database_url=primary.url, wire_enabled="false",
                   database_replica_urls=replica.url, replica_fresh_seconds="1.5",
                   replica_probe_interval="0.3", counter_flush_interval="0.25")  # fmt: skip
    env.pop("IDNEST_MIGRATION_DATABASE_URL", None)
    prefix = run_cli(str(tmp_path), env, "tenant", "create", "--name", "Rep Co").splitlines()[-1]
    key = run_cli(str(tmp_path), env, "apikey", "create", "--tenant", prefix,
                  "--scopes", "read,write").splitlines()[-1]  # fmt: skip
    auth = {"Authorization": f"Bearer {key}"}

    def put(http: httpx.Client, handle: str, url: str) -> None:
        r = http.put(f"/api/handles/{handle}", headers=auth,
                     json={"values": [{"index": 1, "type": "URL", "data": url}]})  # fmt: skip
        assert r.status_code in (200, 201), r.text

    def resolved(http: httpx.Client, handle: str) -> str:
        r = http.get(f"/api/handles/{handle}")
        assert r.status_code == 200, r.text
        return next(v["data"]["value"] for v in r.json()["values"] if v["type"] == "URL")

    def replica_reads(http: httpx.Client) -> float:
        """The node's own count of misses read on the replica, every worker's (a
        PostgreSQL 15 backend reports its xact_commit up to a second late)."""
        time.sleep(0.6)  # past the other worker's next snapshot (counter_flush_interval)
        text = http.get("/metrics").text
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("idnest_replica_reads_total{"))  # fmt: skip

    async def replay(on: bool) -> None:
        conn = await asyncpg.connect(replica.url)
        try:
            await conn.execute(f"SELECT pg_wal_replay_{'resume' if on else 'pause'}()")
        finally:
            await conn.close()

    with (
        serving(str(tmp_path), env, "--workers", "2") as base,
        httpx.Client(base_url=base, timeout=10) as http,
    ):
        handles = [f"{prefix}/R-{i}" for i in range(20)]
        for h in handles:
            put(http, h, f"https://r.example/{h}/1")
        # Written just now: the very next resolution (either worker) reads the primary.
        assert [resolved(http, h) for h in handles[:5]] == [
            f"https://r.example/{h}/1" for h in handles[:5]
        ]
        time.sleep(2.5)  # past the freshness window, the replica is caught up
        before = replica_reads(http)
        assert [resolved(http, h) for h in handles[5:]] == [
            f"https://r.example/{h}/1" for h in handles[5:]
        ]
        assert replica_reads(http) - before >= len(handles[5:])

        # The replica stops replaying: an update shows at once (the key is fresh, so the
        # primary is read), and still after the window (the replica is now not fresh).
        asyncio.run(replay(False))
        try:
            put(http, handles[0], "https://r.example/updated")
            assert resolved(http, handles[0]) == "https://r.example/updated"
            put(http, handles[1], "https://r.example/updated")
            time.sleep(2.5)
            assert resolved(http, handles[1]) == "https://r.example/updated"
        finally:
            asyncio.run(replay(True))
