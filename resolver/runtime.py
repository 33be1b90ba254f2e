"""Builds the resolver's per-process state: cache, counters, and the Resolver."""

from __future__ import annotations

from core.bus import InvalidationBus, RedisInvalidationBus
from core.settings import Settings
from resolver.cache import RecordCache
from resolver.counters import ResolutionCounters
from resolver.service import Resolver


def _writes_reach_us(settings: Settings, bus: InvalidationBus) -> bool:
    return isinstance(bus, RedisInvalidationBus) or settings.embedded


def build_resolver(settings: Settings, bus: InvalidationBus) -> Resolver:
    cache = RecordCache(
        bus,
        max_bytes=int(settings.record_cache_mb * 1024 * 1024),
        negative_ttl=settings.negative_cache_ttl,
        # With a shared bus every write reaches us, and on SQLite the change log tells
        # us (core.tenant_watch); on PostgreSQL without Redis, the CLI in another process
        # may write behind our back, so entries expire as a backstop.
        backstop_ttl=None if _writes_reach_us(settings, bus) else settings.auth_cache_ttl,
        # Replicas lag at most two probe intervals behind (core.pgha.Replicas).
        fresh_seconds=max(settings.replica_fresh_seconds, 3 * settings.replica_probe_interval),
    )
    return Resolver(cache, ResolutionCounters(), settings)
