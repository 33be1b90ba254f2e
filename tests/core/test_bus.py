"""The Redis invalidation bus: a published invalidation is applied before the very next
read in another process, and a lost subscription makes caches step aside."""

from __future__ import annotations

import asyncio
import os

import pytest

from core.bus import FLUSH_ALL, InvalidationBus, RedisInvalidationBus, channel_for
from resolver.cache import RecordCache, build_record

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        os.environ.get("IDNEST_TEST_PROFILE") != "postgres", reason="needs Redis (postgres profile)"
    ),
]
REDIS = os.environ.get("IDNEST_TEST_REDIS", "redis://127.0.0.1:6379/0")
CHANNEL = channel_for(f"test-bus-{os.getpid()}")


def _cache(bus: InvalidationBus) -> RecordCache:
    return RecordCache(bus, max_bytes=1 << 20, negative_ttl=5, backstop_ttl=None)


async def test_invalidation_reaches_the_other_process_before_its_next_read():
    writer, reader = RedisInvalidationBus(REDIS, CHANNEL), RedisInvalidationBus(REDIS, CHANNEL)
    await writer.start()
    await reader.start()
    try:
        cache = _cache(reader)
        misses = 0
        for n in range(200):
            key = f"88.100.1/bus-{n}"
            cache.put(key, build_record(1, key, []), cache.generation)
            assert cache.get(key) is not None
            await writer.publish(f"rec:{key}")
            # No await in between: the reader must not depend on its event loop
            # having run; get() drains the socket itself.
            if cache.get(key) is not None:
                misses += 1
        assert misses == 0
    finally:
        await writer.stop()
        await reader.stop()


async def test_bulk_publish_carries_many_keys_in_one_message():
    writer, reader = RedisInvalidationBus(REDIS, CHANNEL), RedisInvalidationBus(REDIS, CHANNEL)
    await writer.start()
    await reader.start()
    try:
        cache = _cache(reader)
        keys = [f"88.100.1/many-{n}" for n in range(50)]
        for k in keys:
            cache.put(k, build_record(1, k, []), cache.generation)
        await writer.publish(*[f"rec:{k}" for k in keys])
        assert all(cache.get(k) is None for k in keys)
    finally:
        await writer.stop()
        await reader.stop()


async def test_lost_subscription_bypasses_cache_then_recovers():
    bus = RedisInvalidationBus(REDIS, CHANNEL)
    await bus.start()
    seen: list[str] = []
    bus.subscribe(seen.append)
    cache = _cache(bus)
    try:
        cache.put("k/1", build_record(1, "k/1", []), cache.generation)
        assert bus._sock is not None
        bus._sock.close()  # the subscription dies under us
        bus._read_ready()  # what the event loop calls when the socket turns readable
        assert not bus.connected
        assert cache.get("k/1") is None  # nothing served from a cache we can't trust
        for _ in range(50):
            if bus.connected:
                break
            await asyncio.sleep(0.1)
        assert bus.connected
        assert FLUSH_ALL in seen
    finally:
        await bus.stop()
