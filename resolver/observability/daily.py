"""What the top-level node is owed from the measurements, on its cadence:
the daily monitoring message (the previous Asia/Shanghai day) and the monthly report
(the previous month, within its first 10 working days). Each is enqueued once (the
outbox says whether it already was); core.outbox's delivery sends it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from core.outbox import enqueue
from core.tables import Outbox
from core.tenancy import cross_tenant
from resolver.observability.report import SHANGHAI, as_dict, build_report, latency_of
from resolver.observability.tables import DoorMinute

TOPIC_MONITORING, TOPIC_MONTHLY = "upstream.monitoring", "upstream.monthly_report"
WORKING_DAYS_ALLOWED = 10


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


async def monitoring_figures(day: date) -> dict[str, Any]:
    """Average, maximum and minimum resolution and registration latency (ms), peak QPS."""
    start, end = day_bounds(day)
    async with cross_tenant("maintenance"):
        rows = await DoorMinute.select().where(
            (DoorMinute.minute >= start) & (DoorMinute.minute < end)).run()  # fmt: skip
    reads = [r for r in rows if not r["door"].startswith("register:")]
    writes = [r for r in rows if r["door"].startswith("register:")]
    res, reg = latency_of(reads), latency_of(writes)
    per_minute: dict[Any, int] = {}
    for r in reads:
        per_minute[r["minute"]] = per_minute.get(r["minute"], 0) + r["requests"]
    peak = max([round(n / 60) for n in per_minute.values()] + [r["peak_qps"] for r in reads] + [0])
    return {
        "day": day.isoformat(),
        "resolution_avg_ms": res.avg_ms, "resolution_max_ms": res.max_ms,
        "resolution_min_ms": res.min_ms, "registration_avg_ms": reg.avg_ms,
        "registration_max_ms": reg.max_ms, "registration_min_ms": reg.min_ms,
        "peak_qps": peak, "resolutions": res.count, "registrations": reg.count,
    }  # fmt: skip


def working_days_after(month_end: date, today: date) -> int:
    """Working days (Monday to Friday) from the day after ``month_end`` to ``today``."""
    n, d = 0, month_end + timedelta(days=1)
    while d <= today:
        n += d.weekday() < 5
        d += timedelta(days=1)
    return n


async def _already(topic: str, key: str, value: str) -> bool:
    async with cross_tenant("maintenance"):
        rows = await Outbox.select(Outbox.payload).where(Outbox.topic == topic).run()
    for row in rows:
        payload = row["payload"]
        if isinstance(payload, str):
            import json

            payload = json.loads(payload)
        if isinstance(payload, dict) and payload.get(key) == value:
            return True
    return False


async def enqueue_due(interval: float, now: datetime | None = None) -> list[str]:
    now = now or datetime.now(UTC)
    today = now.astimezone(SHANGHAI).date()
    done = []
    yesterday = today - timedelta(days=1)
    if not await _already(TOPIC_MONITORING, "day", yesterday.isoformat()):
        await enqueue(TOPIC_MONITORING, await monitoring_figures(yesterday))
        done.append(f"monitoring {yesterday}")
    last_month_end = today.replace(day=1) - timedelta(days=1)
    month = last_month_end.strftime("%Y-%m")
    if working_days_after(last_month_end, today) <= WORKING_DAYS_ALLOWED and not await _already(
        TOPIC_MONTHLY, "month", month
    ):
        report = await build_report(month, interval, now=now)
        await enqueue(TOPIC_MONTHLY, as_dict(report))
        done.append(f"monthly report {month}")
    return done
