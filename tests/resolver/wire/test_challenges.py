"""Pending challenges: session ids, one use, expiry, the per-source bound, node-wide.

Both stores are checked with the same cases: memory always, Redis in the postgres
profile (IDNEST_REDIS_URL set), where two wire servers must share one table.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest
from wire_server_helpers import put, start_listener

from resolver.wire import bodies, codec
from resolver.wire.adminclient import Credential, request
from resolver.wire.challenges import MemoryChallenges, Pending, RedisChallenges
from resolver.wire.constants import OpCode, ResponseCode
from resolver.wire.framing import read_message
from resolver.wire.keys import secret_answer

pytestmark = pytest.mark.anyio


def pending(n: int = 1) -> Pending:
    return Pending(n, secrets.token_bytes(16), secrets.token_bytes(32), b"frame %d" % n)


@pytest.fixture(params=["memory", "redis"])
async def store(request: Any, settings: Any) -> Any:
    if request.param == "memory":
        yield MemoryChallenges(ttl=0.5, per_source=3)
        return
    if not settings.redis_url:
        pytest.skip("no Redis in this profile")
    import redis.asyncio as aioredis

    ns = f"{settings.redis_namespace}:test{secrets.token_hex(4)}"
    s = RedisChallenges(aioredis.Redis.from_url(settings.redis_url), ns, 0.5, 3)
    yield s
    await s.close()


async def test_session_ids_one_use_and_the_source(store):
    p = pending()
    sid = await store.put("192.0.2.1", p)
    assert 0 < sid < 2**31
    assert await store.take("192.0.2.9", sid) is None  # another address finds nothing
    assert await store.take("192.0.2.1", sid) == p  # ... and did not consume it
    assert await store.take("192.0.2.1", sid) is None  # one use


async def test_expiry(store):
    sid = await store.put("192.0.2.2", pending())
    await asyncio.sleep(0.7)
    assert await store.take("192.0.2.2", sid) is None


async def test_a_source_keeps_at_most_its_bound(store):
    sids = [await store.put("192.0.2.3", pending(n)) for n in range(5)]
    other = await store.put("192.0.2.4", pending(9))
    assert [await store.take("192.0.2.3", s) is not None for s in sids] == [
        False, False, True, True, True,
    ]  # fmt: skip
    assert await store.take("192.0.2.4", other) is not None  # others are untouched


def test_pending_round_trips() -> None:
    p = pending(7)
    assert Pending.unpack(p.pack()) == p


async def _challenge(server: Any, frame: bytes) -> codec.Message:
    reader, writer = await asyncio.open_connection(*server)
    try:
        writer.write(frame)
        got = await read_message(reader)
        assert got is not None
        return codec.parse_message(*got)
    finally:
        writer.close()


async def test_the_answer_may_reach_another_process(app, client, tenant_a, settings):
    """Two wire servers (as two resolver processes): challenged by one, answered at the
    other. Node-wide only with Redis; in memory each process has its own table."""
    secret = "node wide"
    await put(client, tenant_a, f"{tenant_a.prefix}/admin",
              [{"index": 300, "type": "HS_SECKEY", "data": secret}])  # fmt: skip
    one, port1 = await start_listener(app, settings)
    two, port2 = await start_listener(app, settings)
    try:
        h = f"{tenant_a.prefix}/NODE-WIDE"
        body = bodies.values_body(h, [])
        frame = codec.encode_request(OpCode.CREATE_HANDLE, body, request_id=500)
        challenge = await _challenge(("127.0.0.1", port1), frame)
        nonce = bodies.decode_body(challenge)[0].nonce  # type: ignore[union-attr]
        digest = challenge.body[1:33]
        answer = bodies.challenge_answer_body(
            "HS_SECKEY", f"{tenant_a.prefix}/admin", 300,
            secret_answer(secret.encode(), nonce, digest),
        )  # fmt: skip
        reply = await _challenge(("127.0.0.1", port2), codec.encode_request(
            OpCode.RESPONSE_TO_CHALLENGE, answer, request_id=501,
            session_id=challenge.envelope.session_id))  # fmt: skip
        if settings.redis_url:
            assert reply.header.rc == ResponseCode.SUCCESS
            assert (await client.get(f"/api/handles/{h}")).status_code == 200
        else:
            assert reply.header.rc == ResponseCode.AUTHEN_ERROR
    finally:
        await one.stop()
        await two.stop()


async def test_same_connection_answers_still_work(client, tenant_a, app, settings):
    """An RFC-style client answering on the same connection, same request id."""
    await put(client, tenant_a, f"{tenant_a.prefix}/admin",
              [{"index": 300, "type": "HS_SECKEY", "data": "same conn"}])  # fmt: skip
    listener, port = await start_listener(app, settings)
    try:
        cred = Credential(f"{tenant_a.prefix}/admin", 300, secret=b"same conn")
        h = f"{tenant_a.prefix}/SAME-CONN"
        replies = await request(OpCode.CREATE_HANDLE, bodies.values_body(h, []), cred,
                                server=("127.0.0.1", port), same_connection=True)  # fmt: skip
        assert replies[-1][0].header.rc == ResponseCode.SUCCESS
    finally:
        await listener.stop()
