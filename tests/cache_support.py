"""Waiting out a write's own invalidations before a test fills the cache."""

from __future__ import annotations

import asyncio
from typing import Any


async def writes_settled(resolver: Any) -> None:
    """Let the writes' own invalidations arrive, so none drops a copy cached after this.
    On the embedded profile the change-log watch (core.tenant_watch) delivers each once
    more: wait until it has read the log up to now. Over Redis (the postgres profile) they
    come back on the subscription: wait until the cache's generation stops moving."""
    from core import tenant_watch

    await tenant_watch.caught_up(resolver.cache.bus)
    for _ in range(20):
        generation = resolver.cache.generation
        await asyncio.sleep(0.05)
        resolver.cache.bus.drain()
        if resolver.cache.generation == generation:
            return
