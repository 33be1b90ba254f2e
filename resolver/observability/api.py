"""``GET /metrics``: every process's counters added up, in the Prometheus text format."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from litestar import Response, get
from piccolo.querystring import QueryString

from core import db
from core.http import NO_COOKIES
from core.metrics import CONTENT_TYPE, Labels, Totals, read_totals, render, write_snapshot
from core.openapi import ok
from core.settings import Settings, get_settings
from core.tenancy import cross_tenant

log = logging.getLogger("idnest.metrics")
Gauge = tuple[str, str, Labels, float]


def metrics_dir(settings: Settings) -> Path:
    return settings.metrics_path


def add_resolution_totals(totals: Totals) -> None:
    """``idnest_resolutions_total{door,result}``: the histograms' counts, as counters."""
    for (name, labels), row in list(totals.histograms.items()):
        if name == "idnest_resolution_seconds":
            key = ("idnest_resolutions_total", labels)
            totals.counters[key] = totals.counters.get(key, 0) + sum(row[:-1])


async def _rows(sql: str, *args: Any) -> list[dict[str, Any]]:
    async with cross_tenant("maintenance"):
        rows: list[dict[str, Any]] = await db.engine().run_querystring(QueryString(sql, *args))
    return rows


async def database_gauges(now: datetime | None = None) -> list[Gauge]:
    """Outbox lag and backlog, dead letters, failing periodic jobs: read from the database."""
    now = now or datetime.now(UTC)
    gauges: list[Gauge] = []
    try:
        pending = await _rows(
            "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox WHERE delivered_at IS NULL"
        )
        oldest = pending[0]["oldest"] if pending else None
        if isinstance(oldest, str):
            oldest = datetime.fromisoformat(oldest)
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        lag = (now - oldest).total_seconds() if oldest is not None else 0.0
        gauges.append(("idnest_outbox_pending", "Outbox messages not yet delivered", (),
                       float(pending[0]["n"] if pending else 0)))  # fmt: skip
        gauges.append(("idnest_outbox_lag_seconds", "Age of the oldest undelivered message",
                       (), max(lag, 0.0)))  # fmt: skip
        gauges.append(("idnest_outbox_dead_letters", "Outbox messages given up on", (),
                       float(await _dead_letters())))  # fmt: skip
        failing = await _rows("SELECT name FROM scheduled_jobs WHERE status = {}", "error")
        gauges.append(("idnest_jobs_failing", "Periodic jobs whose last run failed", (),
                       float(len(failing))))  # fmt: skip
    except Exception:  # the database down: the in-memory metrics still answer
        log.exception("metrics: database gauges unavailable")
        gauges.append(("idnest_database_up", "Database reachable from /metrics", (), 0.0))
    else:
        gauges.append(("idnest_database_up", "Database reachable from /metrics", (), 1.0))
    return gauges


async def _dead_letters() -> int:
    """Dead letters, once the delivery worker marks them (a ``dead_at`` column)."""
    from core.ddl import has_column

    if not await has_column("outbox", "dead_at"):
        return 0
    rows = await _rows("SELECT COUNT(*) AS n FROM outbox WHERE dead_at IS NOT NULL")
    return int(rows[0]["n"]) if rows else 0


async def metrics_text(settings: Settings) -> bytes:
    directory = metrics_dir(settings)
    write_snapshot(directory)  # this process's latest counts first
    totals = read_totals(directory)
    add_resolution_totals(totals)
    return render(totals, await database_gauges())


@get("/metrics", tags=["Service"], opt=NO_COOKIES, summary="Prometheus metrics (every process)",
     responses=ok(str, media_type="text/plain"))  # fmt: skip
async def metrics() -> Response[bytes]:
    return Response(content=await metrics_text(get_settings()), media_type=CONTENT_TYPE)


ROUTES = [metrics]
