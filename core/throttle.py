"""The one limiter for failed credentials (the ``limits`` library), shared by every door
that checks a secret: the portal login, the OAuth2 token endpoint.

Redis holds the windows in the single-node profile so every worker sees them; the
embedded profile keeps them in memory.
"""

from __future__ import annotations

from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from core.settings import get_settings

_limiter: MovingWindowRateLimiter | None = None


def limiter() -> MovingWindowRateLimiter:
    global _limiter
    if _limiter is None:
        settings = get_settings()
        url = settings.redis_url
        storage: Storage = (
            RedisStorage(
                "async+" + url,
                implementation="redispy",
                key_prefix=f"{settings.redis_namespace}:limits",
            )
            if url
            else MemoryStorage()
        )
        _limiter = MovingWindowRateLimiter(storage)
    return _limiter


def reset_limiter() -> None:
    global _limiter
    _limiter = None
