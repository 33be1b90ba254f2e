"""Per-source UDP budget in datagrams sent: a token bucket per source address.

``allow`` spends one datagram when a request arrives (its answer's first datagram, or
nothing when refused); ``spend`` takes the rest of a multi-datagram answer.

Why not the ``limits`` library: a UDP answer must cost a few microseconds in total, and
``limits``' MemoryStorage moving window takes a lock, builds a key string and walks a
deque per hit (measured on this machine: moving window 6.8 µs, fixed window 2.5 µs per
``hit``, this bucket 0.18 µs —
see docs/wire.md), which alone would be a large share of a ~10 µs cached answer. A
bucket is two floats per source and one dict look-up.

Bounded memory: at most ``max_sources`` buckets; when full, buckets that have refilled
(sources idle long enough to be back at full burst) are forgotten, and if that frees
nothing the table is cleared (everyone gets a fresh burst — a spoofed-source flood then
costs at most one burst per address, never unbounded memory).
"""

from __future__ import annotations

import time
from typing import Any


class TokenBuckets:
    __slots__ = ("_buckets", "burst", "clock", "max_sources", "rate", "refused")

    def __init__(self, rate: float, burst: float, *, max_sources: int = 65536,
                 clock: object = time.monotonic) -> None:  # fmt: skip
        self.rate = rate
        self.burst = max(burst, 1.0)
        self.max_sources = max_sources
        self.clock = clock
        self.refused = 0
        self._buckets: dict[object, list[float]] = {}

    def allow(self, source: object) -> bool:
        """Spend one datagram for ``source``; False when its budget is exhausted."""
        if self.rate <= 0:
            return True
        now: float = self.clock()  # type: ignore[operator]
        bucket = self._buckets.get(source)
        if bucket is None:
            if len(self._buckets) >= self.max_sources:
                self._prune(now)
            self._buckets[source] = [self.burst - 1.0, now]
            return True
        tokens = bucket[0] + (now - bucket[1]) * self.rate
        if tokens > self.burst:
            tokens = self.burst
        bucket[1] = now
        if tokens < 1.0:
            bucket[0] = tokens
            self.refused += 1
            return False
        bucket[0] = tokens - 1.0
        return True

    def spend(self, source: object, n: int) -> bool:
        """Spend ``n`` more datagrams for ``source`` (after ``allow``); False, spending
        nothing, when its budget cannot cover them all."""
        if self.rate <= 0 or n <= 0:
            return True
        now: float = self.clock()  # type: ignore[operator]
        bucket = self._buckets.get(source)
        if bucket is None:
            if len(self._buckets) >= self.max_sources:
                self._prune(now)
            bucket = self._buckets[source] = [self.burst, now]
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens < n:
            bucket[0] = tokens
            self.refused += 1
            return False
        bucket[0] = tokens - n
        return True

    def _prune(self, now: float) -> None:
        full = [
            k for k, (tokens, last) in self._buckets.items()
            if tokens + (now - last) * self.rate >= self.burst
        ]  # fmt: skip
        for k in full:
            del self._buckets[k]
        if len(self._buckets) >= self.max_sources:
            self._buckets.clear()

    def __len__(self) -> int:
        return len(self._buckets)


def request_buckets(settings: Any) -> TokenBuckets:
    """Buckets for ``IDNEST_RATE_LIMIT_WIRE`` (``N/second`` in the limits notation): N
    requests per period, a burst of N; unlimited when rate limits are off."""
    import limits

    if not settings.rate_limit_enabled:
        return TokenBuckets(0.0, 1.0)
    item = limits.parse(settings.rate_limit_wire)
    return TokenBuckets(item.amount / item.get_expiry(), float(item.amount))
