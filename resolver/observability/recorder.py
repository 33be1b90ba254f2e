"""What each process writes once per flush interval: its resolution-log batch and its
per-minute door figures (traffic, errors, latency, peak rate). Never per resolution."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

from piccolo.engine.postgres import PostgresEngine
from piccolo.querystring import QueryString

from core import db
from core.metrics import BUCKETS, METER
from core.tenancy import cross_tenant
from resolver.observability.reslog import RESOLUTION_LOG, Entry

log = logging.getLogger("idnest.observability")
_LOG_COLUMNS = ("at", "door", "identifier", "result", "source", "latency_us")
_BOUNDS_US = [int(b * 1_000_000) for b in BUCKETS]


def _log_rows(entries: list[Entry]) -> list[tuple[Any, ...]]:
    return [
        (datetime.fromtimestamp(at, UTC), door, ident[:2048], result, source[:64], int(s * 1e6))
        for at, door, ident, result, source, s in entries
    ]


LOG_CHUNK = 100  # rows converted and sent between two turns of the event loop (~0.3 ms)


def _row_chunks(entries: list[Entry]) -> Iterator[list[tuple[Any, ...]]]:
    for i in range(0, len(entries), LOG_CHUNK):
        yield _log_rows(entries[i : i + LOG_CHUNK])


async def _rows(entries: list[Entry]) -> AsyncIterator[tuple[Any, ...]]:
    """The rows, a chunk at a time with the event loop let in between: a second's worth
    of log (tens of thousands of rows at full load) converted and encoded at once would
    hold up every resolution in this process for tens of milliseconds."""
    for chunk in _row_chunks(entries):
        for row in chunk:
            yield row
        await asyncio.sleep(0)


async def write_log(entries: list[Entry]) -> int:
    """One batch of resolution-log entries: COPY on PostgreSQL, executemany on SQLite."""
    if not entries:
        return 0
    async with cross_tenant("maintenance", write=True) as tx:
        if isinstance(db.engine(), PostgresEngine):
            await tx.connection.copy_records_to_table(
                "resolution_log", records=_rows(entries), columns=_LOG_COLUMNS
            )
        else:
            for chunk in _row_chunks(entries):
                await tx.connection.executemany(
                    "INSERT INTO resolution_log (at, door, identifier, result, source, "
                    "latency_us) VALUES (?, ?, ?, ?, ?, ?)",
                    chunk,
                )
    return len(entries)


class MinuteFigures:
    """The change in this process's histograms since the last flush, per door."""

    def __init__(self) -> None:
        self.last: dict[tuple[str, Any], list[float]] = {}
        self.last_at = time.monotonic()

    def take(self) -> dict[str, list[float]]:
        """door -> [requests, errors, latency sum µs, max µs, min µs, rate per second]."""
        now = time.monotonic()
        elapsed, self.last_at = max(now - self.last_at, 0.001), now
        out: dict[str, list[float]] = {}
        for (name, labels), row in list(METER.histograms.items()):
            if name not in ("idnest_resolution_seconds", "idnest_registration_seconds"):
                continue
            before = self.last.get((name, labels)) or [0.0] * len(row)
            delta = [a - b for a, b in zip(row, before, strict=True)]
            self.last[(name, labels)] = list(row)
            n = sum(delta[:-1])
            if n <= 0:
                continue
            tags = dict(labels)
            door = (
                tags["door"] if name == "idnest_resolution_seconds" else f"register:{tags['door']}"
            )
            used = [i for i, c in enumerate(delta[:-1]) if c]
            top = _BOUNDS_US[used[-1]] if used[-1] < len(_BOUNDS_US) else _BOUNDS_US[-1] * 2
            low = _BOUNDS_US[used[0] - 1] if used[0] > 0 else 1
            fig = out.setdefault(door, [0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
            fig[0] += n
            fig[1] += n if tags.get("result") == "error" else 0
            fig[2] += delta[-1] * 1e6
            fig[3] = max(fig[3], top)
            fig[4] = min(fig[4], low) if fig[4] else low
            fig[5] += n / elapsed
        return out


def _greater(column: str) -> str:
    return (
        f"{column} = CASE WHEN EXCLUDED.{column} > door_minutes.{column} "
        f"THEN EXCLUDED.{column} ELSE door_minutes.{column} END"
    )


_UPSERT = (
    "INSERT INTO door_minutes (minute, door, requests, errors, latency_sum_us, "  # noqa: S608
    "latency_max_us, latency_min_us, peak_qps) VALUES ({}, {}, {}, {}, {}, {}, {}, {}) "
    "ON CONFLICT (minute, door) DO UPDATE SET "
    "requests = door_minutes.requests + EXCLUDED.requests, "
    "errors = door_minutes.errors + EXCLUDED.errors, "
    "latency_sum_us = door_minutes.latency_sum_us + EXCLUDED.latency_sum_us, "
    + _greater("latency_max_us")
    + ", "
    + _greater("peak_qps")
    + ", "
    "latency_min_us = CASE WHEN door_minutes.latency_min_us = 0 OR EXCLUDED.latency_min_us "
    "< door_minutes.latency_min_us THEN EXCLUDED.latency_min_us "
    "ELSE door_minutes.latency_min_us END"
)


def _upsert(minute: datetime, door: str, fig: list[float]) -> QueryString:
    values = [int(fig[0]), int(fig[1]), int(fig[2]), int(fig[3]), int(fig[4]), round(fig[5])]
    return QueryString(_UPSERT, minute, door, *values)


async def write_minutes(figures: dict[str, list[float]], now: datetime | None = None) -> None:
    if not figures:
        return
    minute = (now or datetime.now(UTC)).replace(second=0, microsecond=0)
    async with cross_tenant("maintenance", write=True):
        for door, fig in figures.items():
            await db.engine().run_querystring(_upsert(minute, door, fig))


MINUTES = MinuteFigures()


async def record_interval() -> None:
    """This interval's log batch and door figures; kept for next time if the database
    is down (the log buffer stays bounded: beyond it entries are dropped and counted)."""
    entries = RESOLUTION_LOG.take()
    try:
        RESOLUTION_LOG.written += await write_log(entries)
    except Exception:
        log.exception("could not write %d resolution-log entries; retrying", len(entries))
        room = max(RESOLUTION_LOG.capacity - len(RESOLUTION_LOG.entries), 0)
        RESOLUTION_LOG.dropped += max(len(entries) - room, 0)
        RESOLUTION_LOG.entries[:0] = entries[:room]
    figures = MINUTES.take()
    try:
        await write_minutes(figures)
    except Exception:
        log.exception("could not write the door minutes")
