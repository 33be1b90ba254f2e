"""Every Redis client of the node, direct or through Redis Sentinel.

``IDNEST_REDIS_URL`` names one server. With ``IDNEST_REDIS_SENTINELS`` (host:port,
comma-separated) the clients ask Sentinel which server is the master of
``IDNEST_REDIS_MASTER_NAME`` and ask again when a connection fails, so a Sentinel
failover is followed without a restart: the publisher, sessions, wire challenges and
login throttles (redis-py's Sentinel pool, and the ``limits`` Sentinel storage), and
the invalidation bus's own subscriber socket (``master_address`` on every reconnect).
The URL, if also set, still gives the password and database number.
"""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import unquote, urlparse

import redis.asyncio as aioredis
from redis import Redis
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.sentinel import Sentinel

from core.settings import Settings

# Seconds to wait for a Sentinel or the master to answer before trying the next one.
SOCKET_TIMEOUT = 2.0


def sentinel_hosts(settings: Settings) -> list[tuple[str, int]]:
    hosts = []
    for item in settings.redis_sentinels.split(","):
        item = item.strip()
        if not item:
            continue
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"IDNEST_REDIS_SENTINELS: {item!r} is not host:port")
        hosts.append((host.strip("[]"), int(port)))
    return hosts


def credentials(settings: Settings) -> dict[str, Any]:
    """Username, password and database number from IDNEST_REDIS_URL (all optional)."""
    parsed = urlparse(settings.redis_url) if settings.redis_url else None
    if parsed is None:
        return {}
    out: dict[str, Any] = {}
    if parsed.username:
        out["username"] = unquote(parsed.username)
    if parsed.password:
        out["password"] = unquote(parsed.password)
    if parsed.path.strip("/").isdigit():
        out["db"] = int(parsed.path.strip("/"))
    return out


def _master(settings: Settings, sentinel_class: Any) -> Any:
    """The master of ``IDNEST_REDIS_MASTER_NAME`` through Sentinel (redis-py's blocking or
    asyncio Sentinel): after a failed command the next one asks Sentinel again."""
    sentinel = sentinel_class(
        sentinel_hosts(settings), socket_timeout=SOCKET_TIMEOUT,
        sentinel_kwargs={"socket_timeout": SOCKET_TIMEOUT},
    )  # fmt: skip
    return sentinel.master_for(
        settings.redis_master_name, socket_timeout=SOCKET_TIMEOUT, **credentials(settings)
    )


def client(settings: Settings) -> aioredis.Redis:
    """An asyncio client for the master; through Sentinel it finds the master again after
    a failover (the next command after a failed one asks Sentinel)."""
    if settings.redis_sentinels:
        return cast(aioredis.Redis, _master(settings, AsyncSentinel))
    return aioredis.Redis.from_url(settings.redis_url)


def sync_client(settings: Settings) -> Redis:
    """A blocking client for the Sentinel-managed master (the Dramatiq broker's)."""
    return cast(Redis, _master(settings, Sentinel))


def master_address(settings: Settings) -> tuple[str, int]:
    """Where the master is now (blocking: the bus calls it from a thread)."""
    if not settings.redis_sentinels:
        parsed = urlparse(settings.redis_url)
        return parsed.hostname or "127.0.0.1", parsed.port or 6379
    sentinel = Sentinel(sentinel_hosts(settings), socket_timeout=SOCKET_TIMEOUT)
    host, port = sentinel.discover_master(settings.redis_master_name)
    return str(host), int(port)


def limits_storage_uri(settings: Settings) -> tuple[str, dict[str, Any]]:
    """The ``limits`` storage URI (async) and its options, for the login throttles."""
    if settings.redis_sentinels:
        hosts = ",".join(f"{h}:{p}" for h, p in sentinel_hosts(settings))
        options: dict[str, Any] = {
            "service_name": settings.redis_master_name,
            "use_replicas": False,
        }
        creds = credentials(settings)
        if "password" in creds:
            options["password"] = creds["password"]
        if "db" in creds:
            options["db"] = creds["db"]
        return f"async+redis+sentinel://{hosts}", options
    return "async+" + settings.redis_url, {}
