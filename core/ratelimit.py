"""Rate limits on every door, with the ``limits`` library.

Three kinds of limit, each counted per door (rest, proxy, gs1, snms, bulk, wire):

- **Anonymous, per source address** (``IDNEST_RATE_LIMIT_ANONYMOUS``): resolution is a
  public good, so the default is generous. It is checked first thing in the ASGI stack
  (``RateLimitGate``, outside the resolution fast path), so it must be cheap: a fixed
  window per (door, source) in a dict, the limit as ``limits`` parses it. Not ``limits``'
  MemoryStorage here: each ``incr`` there re-arms a ``threading.Timer`` (a new thread
  every 10 ms under load) and takes a lock, which halved cache-hit throughput in
  bench/ratelimit.py. Where Redis is
  configured the counts are also added up there in batches (``cost=``) so that every
  worker's share counts against one window; a source Redis says is over is refused
  locally until its window ends. Redis being away never refuses anyone: the local window
  still holds.
- **Per credential** (``IDNEST_RATE_LIMIT_KEY``, ``IDNEST_RATE_LIMIT_BULK`` on the bulk
  door): an API key, an OAuth client (``Principal.client_id``), an SNMS account, counted
  in the shared storage (Redis where configured, else memory) by the auth dependency.
- **Failed credentials** (``IDNEST_LOGIN_FAILURES_PER_MINUTE``): only failures count, per
  account and per source address, on every door that checks a secret (portal login,
  ``/identity/token``, ``/identity/token/v1``, API keys and Basic on REST).

An exceeded limit raises or answers ``RateLimited`` (HTTP 429 problem+json with
``Retry-After``; the SNMS envelope on SNMS routes; rc 3 SERVER_TOO_BUSY on the wire).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import limits
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from core.errors import RateLimited
from core.settings import Settings, get_settings
from core.throttle import FallbackLimiter

log = logging.getLogger("idnest.ratelimit")
DOORS = ("rest", "proxy", "gs1", "snms", "bulk", "wire")
_MAX_BLOCKED = 65536


def door_of(path: str, gs1_claims: Callable[[str], bool] | None = None) -> str | None:
    """The door a request path belongs to, None for what is not a door (portal pages)."""
    if path.startswith("/api/"):
        return "bulk" if path.startswith("/api/bulk") else "rest"
    if path.startswith(("/identity", "/snms/")):
        return "snms"
    if path.startswith("/hrls/"):
        return "rest"
    if gs1_claims is not None and gs1_claims(path):
        return "gs1"
    if len(path) > 3 and (path[1].isdigit() or path[1:6].lower() == "0.na/"):
        return "proxy"
    return None


def parse(text: str) -> limits.RateLimitItem:
    """``"20/second"`` as a limit; ValueError naming the text when it is not one."""
    return limits.parse(text)


def retry_after(reset_time: float, now: float | None = None) -> int:
    """Whole seconds until a window resets, at least 1 (the ``Retry-After`` value)."""
    return max(1, math.ceil(reset_time - (time.time() if now is None else now)))


def _storage(settings: Settings) -> Storage:
    if settings.redis_url:
        return RedisStorage(
            "async+" + settings.redis_url,
            implementation="redispy",
            key_prefix=f"{settings.redis_namespace}:rl",
            # A Redis that does not answer is given up on quickly (then _Fallback).
            socket_connect_timeout=1.0,
            socket_timeout=1.0,
        )
    return MemoryStorage()


class Limits:
    """One process's limiters, built from the settings once (``get_limits``)."""

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limit_enabled
        self.anonymous = parse(settings.rate_limit_anonymous)
        self.per_key = parse(settings.rate_limit_key)
        self.per_key_bulk = parse(settings.rate_limit_bulk)
        n = settings.login_failures_per_minute
        self.failures_account = limits.RateLimitItemPerMinute(n)
        self.failures_source = limits.RateLimitItemPerMinute(n * 4)
        # (door, source) -> [window number, count]: the fixed window, in process memory.
        self._windows: dict[tuple[str, str], list[int]] = {}
        self._period = float(self.anonymous.get_expiry())
        storage = _storage(settings)
        self.shared = FallbackLimiter(FixedWindowRateLimiter, storage)
        self.failures = FallbackLimiter(MovingWindowRateLimiter, storage)
        self._redis = bool(settings.redis_url)
        self._batch = max(1, self.anonymous.amount // 10)
        self._pending: dict[tuple[str, str], int] = {}
        self._blocked: dict[tuple[str, str], float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.refused = 0

    # --- anonymous, per source (the fast path) ------------------------------------------

    def check_anonymous(self, door: str, source: str) -> int | None:
        """None when an anonymous request from ``source`` may go on, else Retry-After."""
        key = (door, source)
        if self._blocked:
            until = self._blocked.get(key)
            if until is not None:
                now = time.time()
                if now < until:
                    self.refused += 1
                    return retry_after(until, now)
                del self._blocked[key]
        now = time.time()
        slot = int(now // self._period)
        window = self._windows.get(key)
        if window is None or window[0] != slot:
            if window is None and len(self._windows) >= _MAX_BLOCKED:
                self._windows.clear()  # bounded memory: every source starts a new window
            window = self._windows[key] = [slot, 0]
        window[1] += 1
        if window[1] > self.anonymous.amount:
            self.refused += 1
            return retry_after((slot + 1) * self._period, now)
        if self._redis:
            count = self._pending.get(key, 0) + 1
            if count >= self._batch:
                self._pending.pop(key, None)
                self._flush(key, count)
            else:
                self._pending[key] = count
        return None

    def _flush(self, key: tuple[str, str], count: int) -> None:
        try:
            task = asyncio.get_running_loop().create_task(self._share(key, count))
        except RuntimeError:
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _share(self, key: tuple[str, str], count: int) -> None:
        item = self.anonymous
        try:
            # Straight to Redis: its failure is handled below (the local window holds).
            if not await self.shared.primary.hit(item, "anon", *key, cost=count):
                stats = await self.shared.primary.get_window_stats(item, "anon", *key)
                if len(self._blocked) >= _MAX_BLOCKED:
                    self._blocked.clear()
                self._blocked[key] = stats.reset_time
        except Exception as exc:  # Redis away: the local window alone holds
            log.debug("shared rate-limit count failed: %r", exc)

    # --- per credential ----------------------------------------------------------------

    async def check_principal(self, door: str, who: str) -> None:
        """Count one request of credential ``who`` on ``door``; RateLimited when over."""
        item = self.per_key_bulk if door == "bulk" else self.per_key
        if not await self.shared.hit(item, "key", door, who):
            stats = await self.shared.get_window_stats(item, "key", door, who)
            self.refused += 1
            raise RateLimited(
                f"too many requests for this credential on the {door} door "
                f"(limit {item}); slow down",
                retry_after=retry_after(stats.reset_time),
            )

    # --- failed credentials ------------------------------------------------------------

    async def check_failures(self, door: str, source: str, account: str = "") -> None:
        """RateLimited when ``source`` (or ``account``) failed too often lately."""
        checks: list[tuple[limits.RateLimitItem, tuple[str, ...]]] = [
            (self.failures_source, ("fail-src", source))
        ]
        if account:
            checks.append((self.failures_account, ("fail-acct", door, account.lower())))
        for item, ids in checks:
            if not await self.failures.test(item, *ids):
                stats = await self.failures.get_window_stats(item, *ids)
                self.refused += 1
                raise RateLimited(
                    "too many failed attempts; wait and try again",
                    retry_after=retry_after(stats.reset_time),
                )

    async def failed(self, door: str, source: str, account: str = "") -> None:
        await self.failures.hit(self.failures_source, "fail-src", source)
        if account:
            await self.failures.hit(self.failures_account, "fail-acct", door, account.lower())

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


_limits: Limits | None = None


def get_limits() -> Limits:
    global _limits
    if _limits is None:
        _limits = Limits(get_settings())
    return _limits


def configure(settings: Settings) -> Limits:
    """The app factory's limiters (its settings may not be the environment's)."""
    global _limits
    _limits = Limits(settings)
    return _limits


def reset_limits() -> None:
    """Tests change the settings; the next ``get_limits()`` reads them again."""
    global _limits
    _limits = None


def principal_key(principal: Any) -> str:
    """What a credential is counted as: its OAuth client, else its actor (key, account)."""
    client = getattr(principal, "client_id", None)
    return f"client:{client}" if client else str(principal.actor)
