"""Resolution counters: counted in memory, flushed to the usage ledger in windows.

Never a database write per resolution. Each flush takes the counts gathered since the
last one as a *window* with an id of its own (this process's id and a sequence number)
and appends it through ``core.usage.record_window``, which records a window once per
tenant however often it is sent. A flush that fails keeps its window, ids and counts
unchanged, and the next flush sends that same window again before a new one: a commit
whose answer was lost is then not counted twice. A crash loses what was counted since the
last flush (at most one flush interval), never more, and only ever in the tenant's favour.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from core import usage

log = logging.getLogger("idnest.counters")
# Windows kept for a retry while the database is away; past this the oldest are dropped
# (a long outage loses counts, in the tenant's favour, rather than memory).
MAX_PENDING_WINDOWS = 1000


@dataclass(frozen=True, slots=True)
class Window:
    window_id: str
    hour: datetime
    counts: dict[int, tuple[int, int]]


class ResolutionCounters:
    def __init__(self) -> None:
        # tenant id -> [resolved, not found]
        self._counts: defaultdict[int, list[int]] = defaultdict(lambda: [0, 0])
        self.total = 0
        self._process = uuid.uuid4().hex[:16]
        self._sequence = 0
        self._pending: list[Window] = []

    def hit(self, tenant_id: int) -> None:
        self._counts[tenant_id][0] += 1
        self.total += 1

    def not_found(self, tenant_id: int) -> None:
        self._counts[tenant_id][1] += 1
        self.total += 1

    def take(self) -> dict[int, list[int]]:
        counts, self._counts = self._counts, defaultdict(lambda: [0, 0])
        return dict(counts)

    def _close_window(self) -> None:
        counts = self.take()
        if not counts:
            return
        self._sequence += 1
        window = Window(
            f"{self._process}:{self._sequence}",
            usage.now(),
            {t: (c[0], c[1]) for t, c in counts.items()},
        )
        self._pending.append(window)
        if len(self._pending) > MAX_PENDING_WINDOWS:
            dropped = self._pending.pop(0)
            log.error("dropping unflushed resolution window %s", dropped.window_id)

    async def flush(self) -> int:
        """Send every pending window and the counts since the last flush; the number of
        tenants whose counts were written (0 when the database refused: kept for later)."""
        self._close_window()
        written = 0
        while self._pending:
            window = self._pending[0]
            try:
                await usage.record_window(window.window_id, window.counts, hour=window.hour)
            except Exception:
                log.exception("could not flush resolution counters; keeping them for next time")
                return written
            self._pending.pop(0)
            written += len(window.counts)
        return written
