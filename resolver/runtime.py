"""Builds the resolver's per-process state: cache, counters, and the Resolver."""

from __future__ import annotations

from core.bus import InvalidationBus, RedisInvalidationBus
from core.settings import Settings
from resolver.cache import RecordCache
from resolver.counters import ResolutionCounters
from resolver.service import Resolver


def build_resolver(settings: Settings, bus: InvalidationBus) -> Resolver:
    cache = RecordCache(
        bus,
        max_bytes=int(settings.record_cache_mb * 1024 * 1024),
        negative_ttl=settings.negative_cache_ttl,
        # With a shared bus every write reaches us; without one, the CLI in another
        # process may write behind our back, so entries expire as a backstop.
        backstop_ttl=None if isinstance(bus, RedisInvalidationBus) else settings.auth_cache_ttl,
        # Replicas lag at most two probe intervals behind (core.pgha.Replicas).
        fresh_seconds=max(settings.replica_fresh_seconds, 3 * settings.replica_probe_interval),
    )
    return Resolver(cache, ResolutionCounters(), settings)
