"""The one limiter for failed credentials (the ``limits`` library), shared by every door
that checks a secret: the portal login, the OAuth2 token endpoint.

Redis holds the windows in the single-node profile so every worker sees them; the
embedded profile keeps them in memory. ``FallbackLimiter`` counts in memory while Redis is
away (core.ratelimit uses it too).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from limits.aio.storage import (
    MemoryStorage,
    RedisSentinelStorage,
    RedisStorage,
    Storage,
)
from limits.aio.strategies import MovingWindowRateLimiter

from core import redisconn
from core.settings import get_settings

log = logging.getLogger("idnest.throttle")


class FallbackLimiter:
    """A ``limits`` strategy on the shared storage that steps down to this process's
    memory while that storage is away: Redis being down must neither refuse nor fail a
    request. Counts are per process until Redis answers again."""

    def __init__(self, strategy: Any, storage: Storage) -> None:
        self.primary = strategy(storage)
        self.local = None if isinstance(storage, MemoryStorage) else strategy(MemoryStorage())
        self._warned_at = 0.0

    async def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if self.local is not None:
            try:
                return await getattr(self.primary, name)(*args, **kwargs)
            except Exception as exc:  # the storage's connection errors, whatever the driver
                if time.monotonic() - self._warned_at > 10:
                    self._warned_at = time.monotonic()
                    log.warning("rate-limit storage unreachable (%r); counting locally", exc)
                return await getattr(self.local, name)(*args, **kwargs)
        return await getattr(self.primary, name)(*args, **kwargs)

    @property
    def storage(self) -> Storage:
        """The shared storage (tests reset it between cases)."""
        return self.primary.storage

    async def hit(self, *args: Any, **kwargs: Any) -> bool:
        return bool(await self._call("hit", *args, **kwargs))

    async def test(self, *args: Any, **kwargs: Any) -> bool:
        return bool(await self._call("test", *args, **kwargs))

    async def get_window_stats(self, *args: Any, **kwargs: Any) -> Any:
        return await self._call("get_window_stats", *args, **kwargs)


_limiter: FallbackLimiter | None = None


def limiter() -> FallbackLimiter:
    global _limiter
    if _limiter is None:
        settings = get_settings()
        storage: Storage = MemoryStorage()
        if settings.uses_redis:
            # Through Sentinel when it is configured (core.redisconn).
            uri, options = redisconn.limits_storage_uri(settings)
            kind = RedisSentinelStorage if settings.redis_sentinels else RedisStorage
            storage = kind(uri, implementation="redispy",
                           key_prefix=f"{settings.redis_namespace}:limits", **options)  # fmt: skip
        _limiter = FallbackLimiter(MovingWindowRateLimiter, storage)
    return _limiter


def reset_limiter() -> None:
    global _limiter
    _limiter = None
