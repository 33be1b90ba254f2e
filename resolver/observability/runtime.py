"""Per process: what the resolver counts is put in the metrics snapshot, every interval."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

from core.metrics import METER, Labels, write_snapshot
from core.settings import Settings
from resolver.observability.reslog import RESOLUTION_LOG
from resolver.service import Resolver

log = logging.getLogger("idnest.metrics")


def cache_values(resolver: Resolver) -> Iterable[tuple[str, Labels, float]]:
    cache = resolver.cache
    return [
        ("idnest_cache_hits_total", (), cache.hits),
        ("idnest_cache_misses_total", (), cache.misses),
        ("idnest_serve_stale_total", (), cache.stale_served),
        ("idnest_resolution_log_dropped_total", (), RESOLUTION_LOG.dropped),
    ]


def observe(resolver: Resolver, settings: Settings, kind: str) -> None:
    """Register this process's resolver with the meter (once per resolver)."""
    from resolver.observability import metering

    METER.kind = kind
    on = settings.observability_enabled
    metering.ENABLED[0] = on
    RESOLUTION_LOG.configure(settings.resolution_log_buffer, on and settings.resolution_log_enabled)
    METER.add_source("cache", lambda: cache_values(resolver))


async def flush_observations(settings: Settings) -> None:
    from resolver.observability.recorder import record_interval

    try:
        write_snapshot(settings.metrics_path)
    except OSError:
        log.exception("could not write the metrics snapshot")
    await record_interval()


async def observe_forever(settings: Settings) -> None:
    while True:
        await asyncio.sleep(settings.counter_flush_interval)
        await flush_observations(settings)


async def stop_observing(task: asyncio.Task[None], settings: Settings) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await flush_observations(settings)
