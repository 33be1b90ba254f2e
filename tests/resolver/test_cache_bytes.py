"""The resolution cache is bounded in bytes (IDNEST_RECORD_CACHE_MB) and keeps records
compact: what it charges itself tracks what the records really hold on the heap."""

from __future__ import annotations

import gc
import tracemalloc

from core.bus import InvalidationBus
from core.values import HandleValue, ValueData
from resolver.cache import RecordCache, build_record
from resolver.wire import codec


def values(n: int) -> list[HandleValue]:
    ts = "2026-11-24T00:00:00Z"
    return [
        HandleValue(1, "URL", ValueData("string", f"https://example.com/p/{n:07d}"), timestamp=ts),
        HandleValue(2, "EMAIL", ValueData("string", "ops@example.com"), timestamp=ts),
        HandleValue(3, "model", ValueData("string", f"CP-{n % 997:03d} centrifugal pump " * 3),
                    timestamp=ts),
        HandleValue(100, "HS_ADMIN", ValueData("admin", {"handle": "0.NA/88.1", "index": 200,
                                                  "permissions": "011111110011"}),
                    timestamp=ts, permissions="1100"),
    ]


def fill(cache: RecordCache, count: int) -> None:
    for n in range(count):
        key = f"88.1/p-{n:07d}"
        record = build_record(1, key.upper(), values(n))
        cache.put(key, record, cache.generation)
        cache.wire_block(key, record, lambda r: codec.encode_values(r.public))


def test_filling_beyond_the_bound_evicts_the_oldest_and_stays_within_it() -> None:
    bound = 256 * 1024
    cache = RecordCache(InvalidationBus(), max_bytes=bound, negative_ttl=5, backstop_ttl=None)
    fill(cache, 2_000)  # ~2.5 MB of records into 256 KB
    assert 0 < cache.bytes <= bound
    assert cache.evictions > 1_500
    assert cache.bytes == sum(e.size(k) for k, e in cache._records.items())
    assert cache.get("88.1/p-0001999") is not None  # the newest stays
    assert cache.get("88.1/p-0000000") is None  # the oldest went
    held = len(cache)
    cache.on_invalidate("rec:88.1/p-0001999")
    assert len(cache) == held - 1
    assert cache.bytes == sum(e.size(k) for k, e in cache._records.items())
    cache.on_invalidate("tenant:1")
    assert len(cache) == 0 and cache.bytes == 0


def test_charged_bytes_are_close_to_the_heap_the_records_take() -> None:
    cache = RecordCache(InvalidationBus(), max_bytes=1 << 40, negative_ttl=5, backstop_ttl=None)
    gc.collect()
    tracemalloc.start()
    try:
        fill(cache, 5_000)
        gc.collect()
        used, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    per_record = used / 5_000
    assert per_record < 1_500  # ~620 bytes of stored values; ~3.4 KB as parsed objects
    assert 0.8 < cache.bytes / used < 1.25


def test_the_compact_record_gives_back_its_values_in_order() -> None:
    vs = values(7)
    record = build_record(1, "88.1/P-7", vs)
    assert record.values == tuple(vs)
    assert record.public == tuple(v for v in vs if v.public_read)
    assert not record.all_public
    assert record.redirect == "https://example.com/p/0000007"
    assert build_record(1, "88.1/P-8", vs[:3]).all_public
