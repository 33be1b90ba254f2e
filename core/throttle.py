"""The one limiter for failed credentials (the ``limits`` library), shared by every door
that checks a secret: the portal login, the OAuth2 token endpoint.

Redis holds the windows in the single-node profile so every worker sees them; the
embedded profile keeps them in memory.
"""

from __future__ import annotations

from limits.aio.storage import (
    MemoryStorage,
    RedisSentinelStorage,
    RedisStorage,
    Storage,
)
from limits.aio.strategies import MovingWindowRateLimiter

from core import redisconn
from core.settings import get_settings

_limiter: MovingWindowRateLimiter | None = None


def limiter() -> MovingWindowRateLimiter:
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
        _limiter = MovingWindowRateLimiter(storage)
    return _limiter


def reset_limiter() -> None:
    global _limiter
    _limiter = None
