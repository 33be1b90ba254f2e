"""The PostgreSQL pool skips asyncpg's reset query on release (core.pgha.keep_session),
which is safe only while no pooled connection carries session state out of a request:
after writes, reads, searches, audit sealing and an aborted transaction, every
connection in the pool is as a new one would be, and nothing of one tenant's scope is
left for the next borrower."""

from __future__ import annotations

import asyncio
import os

import pytest

POSTGRES = os.environ.get("IDNEST_TEST_PROFILE") == "postgres"
pytestmark = [pytest.mark.anyio, pytest.mark.skipif(not POSTGRES, reason="postgres profile")]

_STATE = """
SELECT current_setting($1, true) AS tenant,
       current_setting($2, true) AS cross_path,
       current_setting('lock_timeout') AS lock_timeout,
       current_setting('plan_cache_mode') AS plan_cache_mode,
       (SELECT count(*) FROM pg_locks
         WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS advisory_locks,
       (SELECT count(*) FROM pg_cursors WHERE name <> '') AS cursors,  -- '': this query
       (SELECT count(*) FROM pg_listening_channels()) AS listening
"""


async def _state_of_every_pooled_connection() -> list[dict]:
    from core import db
    from core.tenancy import CROSS_SETTING, TENANT_SETTING

    pool = db.engine().pool
    held = [await pool.acquire() for _ in range(pool.get_size())]
    try:
        return [dict(await c.fetchrow(_STATE, TENANT_SETTING, CROSS_SETTING)) for c in held]
    finally:
        for c in held:
            await pool.release(c)


async def test_no_request_leaves_session_state_on_a_pooled_connection(client, tenant_a):
    import asyncpg

    from core import audit, db
    from core.tenancy import tenant_transaction

    fresh = await asyncpg.connect(db.engine().config["dsn"])
    try:
        defaults = await fresh.fetchrow(
            "SELECT current_setting('lock_timeout'), current_setting('plan_cache_mode')"
        )
    finally:
        await fresh.close()

    h = f"{tenant_a.prefix}/POOL-1"
    body = [{"index": 1, "type": "URL", "data": "https://example.com/pool"}]
    put = await client.put(f"/api/handles/{h}", json=body, headers=tenant_a.auth())
    assert put.status_code == 201
    assert (await client.get(f"/api/handles/{h}")).status_code == 200
    found = await client.get("/api/search", params={"q": "POOL"}, headers=tenant_a.auth())
    assert found.status_code == 200 and h in found.text
    await audit.flush()
    await audit.seal()
    with pytest.raises(RuntimeError):  # a transaction that fails midway
        async with tenant_transaction(tenant_a.id):
            await db.engine().run_ddl("SET LOCAL lock_timeout = '5ms'")
            raise RuntimeError("abandoned")

    states = await _state_of_every_pooled_connection()
    assert states, "the pool holds no connection"
    for state in states:
        assert state["tenant"] in (None, ""), state
        assert state["cross_path"] in (None, ""), state
        assert (state["lock_timeout"], state["plan_cache_mode"]) == tuple(defaults), state
        assert state["advisory_locks"] == 0 and state["cursors"] == 0, state
        assert state["listening"] == 0, state


async def test_a_release_sends_nothing_to_the_server(client):
    from core import db

    pool = db.engine().pool
    conn = await pool.acquire()
    sent: list[str] = []
    conn.add_query_logger(lambda record: sent.append(record.query))
    await conn.fetchval("SELECT 1")
    await pool.release(conn)
    for _ in range(5):  # asyncpg calls query loggers from tasks of their own
        await asyncio.sleep(0)
    assert sent == ["SELECT 1"]
