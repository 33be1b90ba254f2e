"""A deadlock's victim: PostgreSQL rolls one transaction back; idnest calls that
``Contended`` (nothing stored, safe to run again), answers 503 with Retry-After rather
than 500, and the write door runs such a request once more (core.replay)."""

from __future__ import annotations

import asyncio
import contextvars
import os

import asyncpg
import pytest
from smoke_support import PG_ADMIN_URL

from core import pgha
from core.replay import ReplayOnFailover

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        os.environ.get("IDNEST_TEST_PROFILE") != "postgres", reason="a PostgreSQL deadlock"
    ),
]


@pytest.fixture
async def engine():
    admin = await asyncpg.connect(PG_ADMIN_URL)
    await admin.execute("DROP TABLE IF EXISTS deadlock_pair; "
                        "CREATE TABLE deadlock_pair (id int PRIMARY KEY, v int);"
                        "INSERT INTO deadlock_pair VALUES (1, 0), (2, 0)")  # fmt: skip
    eng = pgha.IdnestPostgresEngine(config={"dsn": PG_ADMIN_URL})
    await eng.start_connection_pool(min_size=1, max_size=4)
    yield eng, admin
    await eng.close_connection_pool()
    await admin.execute("DROP TABLE IF EXISTS deadlock_pair")
    await admin.close()


async def _cross(eng, first: int, second: int, both_in: asyncio.Barrier) -> str:
    try:
        async with eng.transaction() as tx:
            await tx.connection.execute("SET LOCAL deadlock_timeout = '50ms'")
            await tx.connection.execute("UPDATE deadlock_pair SET v = v + 1 WHERE id = $1", first)
            await both_in.wait()
            await tx.connection.execute("UPDATE deadlock_pair SET v = v + 1 WHERE id = $1", second)
        return "committed"
    except pgha.Contended:
        return "contended"


async def test_a_deadlock_victim_is_contended_and_the_other_commits(engine):
    eng, admin = engine
    barrier = asyncio.Barrier(2)
    outcomes = await asyncio.gather(_cross(eng, 1, 2, barrier), _cross(eng, 2, 1, barrier))
    assert sorted(outcomes) == ["committed", "contended"]
    assert await admin.fetchval("SELECT sum(v) FROM deadlock_pair") == 2  # the victim: nothing


async def test_the_write_door_runs_a_deadlock_victim_once_more(engine):
    eng, _ = engine
    runs: list[str] = []

    async def app(scope, receive, send):
        await receive()
        status = 201
        barrier = asyncio.Barrier(2)
        try:
            # The request's transaction meets a concurrent one (another request: not of
            # this attempt) in opposite lock order.
            other = asyncio.create_task(_cross(eng, 2, 1, barrier), context=contextvars.Context())
            runs.append(await _cross(eng, 1, 2, barrier))
            await other
            if runs[-1] == "contended":
                raise pgha.Contended("victim")
        except pgha.Contended:
            status = 503  # as core.http answers it
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message):
        sent.append(message)

    door = ReplayOnFailover(app, delay=0)
    for _ in range(10):  # the server picks the victim: run until the request was it once
        sent.clear()
        await door({"type": "http", "method": "PUT", "path": "/x"}, receive, send)
        starts = [m["status"] for m in sent if m["type"] == "http.response.start"]
        assert len(starts) == 1
        if door.replayed:
            break
    assert door.replayed >= 1, runs
    assert starts == [201] or runs[-1] == "contended"


def test_core_http_answers_contended_with_503_and_retry_after():
    from core.http import internal_error_handler

    class Req:
        method, url = "PUT", type("U", (), {"path": "/api/handles/x"})()

    r = internal_error_handler(Req(), pgha.Contended("victim"))  # type: ignore[arg-type]
    assert r.status_code == 503 and r.headers.get("Retry-After") == "1"
