"""The GS1 resolution cache stays bounded and drops what a write changed."""

from __future__ import annotations

from core.bus import InvalidationBus
from resolver.cache import RecordCache
from resolver.gs1.cache import GS1Entry, Link, SchemeCache


def make(max_size: int = 3) -> SchemeCache:
    records = RecordCache(InvalidationBus(), max_bytes=1 << 20, negative_ttl=5, backstop_ttl=None)
    return SchemeCache(records, max_size=max_size, negative_ttl=5)


def entry() -> GS1Entry:
    link = Link("gs1:pip", "https://x.example/", "", "", "", "", True)
    return GS1Entry(1, [("/01/1", [link])])


def test_flood_of_keys_keeps_cache_and_index_bounded():
    cache = make()
    for i in range(50):
        cache.put_gs1(f"/01/{i}/10/L", f"/01/{i}", cache.missing(), cache.generation)
    assert len(cache._gs1) == 3
    assert sum(len(v) for v in cache._by_primary.values()) == 3


def test_invalidation_drops_every_spelling_under_the_primary_key():
    cache = make(10)
    for path in ("/01/09506000134352", "/01/9506000134352", "/01/09506000134352/10/L"):
        cache.put_gs1(path, "/01/09506000134352", entry(), cache.generation)
    cache.put_gs1("/01/00000000000017", "/01/00000000000017", entry(), cache.generation)
    cache.bus.deliver("gs1:/01/09506000134352")
    assert cache.get_gs1("/01/9506000134352") is None
    assert cache.get_gs1("/01/09506000134352/10/L") is None
    assert isinstance(cache.get_gs1("/01/00000000000017"), GS1Entry)
    cache.bus.deliver("ns:gs1")  # a prefix reviewed: ownership may have changed
    assert cache.get_gs1("/01/00000000000017") is None


def test_a_load_racing_an_invalidation_is_not_stored():
    cache = make()
    generation = cache.generation
    cache.bus.deliver("gs1:/01/1")
    cache.put_gs1("/01/1", "/01/1", entry(), generation)
    assert cache.get_gs1("/01/1") is None


def test_handle_writes_do_not_starve_the_cache():
    cache = make()
    generation = cache.generation
    cache.bus.deliver("rec:88.100.1/pump-1")  # a registration elsewhere, mid-load
    cache.put_gs1("/01/1", "/01/1", entry(), generation)
    assert isinstance(cache.get_gs1("/01/1"), GS1Entry)
