"""Resolution logs (解析日志): every resolution, buffered in memory, written in batches.

A door appends a tuple to a bounded list (``add``: a length check and an append); a
background task takes the list once per flush interval and writes it in one batch. When
the buffer is full, entries are dropped and counted (``dropped``, exported in /metrics)
rather than slowing the door or growing without bound.
"""

from __future__ import annotations

Entry = tuple[float, str, str, str, str, float]  # at, door, identifier, result, source, s


class ResolutionLogBuffer:
    def __init__(self, capacity: int = 100_000, *, enabled: bool = True) -> None:
        self.capacity = capacity
        self.enabled = enabled
        self.entries: list[Entry] = []
        self.dropped = 0
        self.written = 0

    def add(
        self, at: float, door: str, identifier: str, result: str, source: str, seconds: float
    ) -> None:
        if not self.enabled:
            return
        if len(self.entries) >= self.capacity:
            self.dropped += 1
            return
        self.entries.append((at, door, identifier, result, source, seconds))

    def take(self) -> list[Entry]:
        entries, self.entries = self.entries, []
        return entries

    def configure(self, capacity: int, enabled: bool) -> None:
        self.capacity = capacity
        self.enabled = enabled


RESOLUTION_LOG = ResolutionLogBuffer()
