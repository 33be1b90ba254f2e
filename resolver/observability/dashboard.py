"""What the staff operations dashboard shows, read from the measurements (no HTTP here)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from core.tables import Outbox, ScheduledJob
from core.tenancy import cross_tenant
from resolver.observability.report import SHANGHAI, availability_of, month_bounds
from resolver.observability.tables import AbnormalEvent, DoorMinute, ProbeResult

NOW_MINUTES = 5


async def _minutes(since: datetime) -> list[dict[str, Any]]:
    async with cross_tenant("maintenance"):
        rows: list[dict[str, Any]] = await DoorMinute.select().where(
            DoorMinute.minute >= since).run()  # fmt: skip
    return rows


def doors_now(rows: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Per door over the last few minutes: requests per second and average latency."""
    since = now - timedelta(minutes=NOW_MINUTES)
    out: dict[str, list[float]] = {}
    for r in rows:
        if _aware(r["minute"]) >= since:
            acc = out.setdefault(r["door"], [0, 0, 0])
            acc[0] += r["requests"]
            acc[1] += r["latency_sum_us"]
            acc[2] = max(acc[2], r["peak_qps"])
    return [{"door": door, "qps": round(n / (NOW_MINUTES * 60), 2), "peak_qps": peak,
             "avg_ms": round(s / n / 1000, 3) if n else 0.0}
            for door, (n, s, peak) in sorted(out.items())]  # fmt: skip


def hourly(rows: list[dict[str, Any]], now: datetime) -> dict[str, dict[str, list[float]]]:
    """door -> {"qps": 24 hourly values, "ms": 24 hourly average latencies}, oldest first."""
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    out: dict[str, dict[str, list[float]]] = {}
    sums: dict[str, list[float]] = {}
    for r in rows:
        hour = int((_aware(r["minute"]) - start).total_seconds() // 3600)
        if not 0 <= hour < 24:
            continue
        series = out.setdefault(r["door"], {"qps": [0.0] * 24, "ms": [0.0] * 24})
        sums.setdefault(r["door"], [0.0] * 24)[hour] += r["latency_sum_us"]
        series["qps"][hour] += r["requests"] / 3600
    for door, series in out.items():
        for h in range(24):
            n = series["qps"][h] * 3600
            series["ms"][h] = round(sums[door][h] / n / 1000, 3) if n else 0.0
            series["qps"][h] = round(series["qps"][h], 2)
    return out


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


async def availability_this_month(now: datetime) -> float | None:
    start, _ = month_bounds(now.astimezone(SHANGHAI).strftime("%Y-%m"))
    async with cross_tenant("maintenance"):
        probes = await ProbeResult.select().where(ProbeResult.round_at >= start).run()
    rounds: dict[Any, list[dict[str, Any]]] = {}
    for p in probes:
        rounds.setdefault(p["round_at"], []).append(p)
    counted, _, down = availability_of(rounds)
    return round(1 - down / counted, 6) if counted else None


async def deliveries() -> list[dict[str, Any]]:
    """Per outbox topic: last delivered, waiting; per periodic job: when it is next due."""
    async with cross_tenant("maintenance"):
        rows = await Outbox.raw(
            "SELECT topic, MAX(delivered_at) AS last, "
            "SUM(CASE WHEN delivered_at IS NULL THEN 1 ELSE 0 END) AS waiting "
            "FROM outbox GROUP BY topic ORDER BY topic"
        ).run()
        jobs = await ScheduledJob.select(
            ScheduledJob.name, ScheduledJob.due_at, ScheduledJob.finished_at, ScheduledJob.status
        ).order_by(ScheduledJob.name).run()  # fmt: skip
    return [{"kind": "topic", **r} for r in rows] + [{"kind": "job", **j} for j in jobs]


async def open_events() -> list[dict[str, Any]]:
    async with cross_tenant("maintenance"):
        query = AbnormalEvent.select().where(AbnormalEvent.recovered_at.is_null())
        rows: list[dict[str, Any]] = await query.order_by(AbnormalEvent.started_at).run()
    return rows


async def dashboard(now: datetime | None = None) -> dict[str, Any]:
    from resolver.observability.api import database_gauges

    now = now or datetime.now(UTC)
    rows = await _minutes(now - timedelta(hours=24))
    gauges = {name: value for name, _, _, value in await database_gauges(now)}
    return {
        "now": doors_now(rows, now),
        "hourly": hourly(rows, now),
        "availability": await availability_this_month(now),
        "outbox_pending": int(gauges.get("idnest_outbox_pending", 0)),
        "outbox_lag": round(gauges.get("idnest_outbox_lag_seconds", 0.0), 1),
        "dead_letters": int(gauges.get("idnest_outbox_dead_letters", 0)),
        "events": await open_events(),
        "deliveries": await deliveries(),
    }
