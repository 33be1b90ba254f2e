"""The monthly SLA report, computed from measured data only.

Availability is the prober's: the share of probe rounds outside maintenance windows in
which every door answered (a round with any failed door is down for one prober interval).
99.99% allows 0.01% of the month down: 4.32 minutes in a 30-day month. Latencies come from
the per-minute door figures (resolver.observability.recorder), months and days are
Asia/Shanghai's.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core.tenancy import cross_tenant
from resolver.observability.tables import AbnormalEvent, DoorMinute, MaintenanceWindow, ProbeResult

SHANGHAI = ZoneInfo("Asia/Shanghai")
TARGET = 0.9999


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """UTC start and end of an Asia/Shanghai month ``YYYY-MM``; ValueError if malformed."""
    start = datetime.strptime(month, "%Y-%m").replace(tzinfo=SHANGHAI)
    nxt = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start.astimezone(UTC), nxt.astimezone(UTC)


@dataclass
class Latency:
    count: int = 0
    avg_ms: float = 0.0
    max_ms: float = 0.0
    min_ms: float = 0.0


@dataclass
class MonthlyReport:
    month: str
    period_start: str
    period_end: str
    probe_rounds: int = 0
    maintenance_rounds: int = 0
    down_rounds: int = 0
    availability: float | None = None
    downtime_minutes: float = 0.0
    allowed_downtime_minutes: float = 0.0
    operating_hours: float = 0.0
    resolution: Latency = field(default_factory=Latency)
    registration: Latency = field(default_factory=Latency)
    effective_time_ms: float | None = None
    per_door: dict[str, Latency] = field(default_factory=dict)
    maintenance_windows: list[dict[str, str]] = field(default_factory=list)
    incidents: list[dict[str, Any]] = field(default_factory=list)
    tenants: list[dict[str, Any]] = field(default_factory=list)


ENTERPRISE_DOOR = "enterprise:"  # the prober's doors for self-deployed tenants' servers


def availability_of(rounds: dict[Any, list[dict[str, Any]]]) -> tuple[int, int, int]:
    """(rounds counted, maintenance rounds, down rounds) from probe rows by round."""
    counted = maintenance = down = 0
    for rows in rounds.values():
        if any(r["maintenance"] for r in rows):
            maintenance += 1
            continue
        counted += 1
        # A self-deployed tenant's servers are its own: their outage is not the node's.
        if not all(r["ok"] for r in rows if r["door"] != "effective"
                   and not r["door"].startswith(ENTERPRISE_DOOR)):  # fmt: skip
            down += 1
    return counted, maintenance, down


def latency_of(rows: list[dict[str, Any]]) -> Latency:
    n = sum(r["requests"] for r in rows)
    if not n:
        return Latency()
    return Latency(
        count=n,
        avg_ms=round(sum(r["latency_sum_us"] for r in rows) / n / 1000, 3),
        max_ms=round(max(r["latency_max_us"] for r in rows) / 1000, 3),
        min_ms=round(min(r["latency_min_us"] for r in rows if r["latency_min_us"]) / 1000, 3)
        if any(r["latency_min_us"] for r in rows) else 0.0,
    )  # fmt: skip


async def _probes(start: datetime, end: datetime) -> list[dict[str, Any]]:
    return await (
        ProbeResult.select()
        .where((ProbeResult.round_at >= start) & (ProbeResult.round_at < end))
        .order_by(ProbeResult.round_at)
        .run()
    )


async def build_report(month: str, interval: float, now: datetime | None = None) -> MonthlyReport:
    start, end = month_bounds(month)
    end = min(end, now or datetime.now(UTC))
    report = MonthlyReport(month, start.isoformat(), end.isoformat())
    async with cross_tenant("maintenance"):
        probes = await _probes(start, end)
        minutes = await (
            DoorMinute.select()
            .where((DoorMinute.minute >= start) & (DoorMinute.minute < end))
            .run()
        )
        windows = await (
            MaintenanceWindow.select()
            .where((MaintenanceWindow.starts_at < end) & (MaintenanceWindow.ends_at > start))
            .order_by(MaintenanceWindow.starts_at)
            .run()
        )
        events = await (
            AbnormalEvent.select()
            .where((AbnormalEvent.started_at < end)
                   & (AbnormalEvent.recovered_at.is_null() | (AbnormalEvent.recovered_at > start)))
            .order_by(AbnormalEvent.started_at)
            .run()
        )  # fmt: skip
        report.tenants = await _tenant_figures(start, end)
    rounds: dict[Any, list[dict[str, Any]]] = {}
    for row in probes:
        rounds.setdefault(row["round_at"], []).append(row)
    report.probe_rounds, report.maintenance_rounds, report.down_rounds = availability_of(rounds)
    if report.probe_rounds:
        report.availability = round(1 - report.down_rounds / report.probe_rounds, 6)
        report.operating_hours = round(report.probe_rounds * interval / 3600, 2)
    report.downtime_minutes = round(report.down_rounds * interval / 60, 2)
    month_minutes = (month_bounds(month)[1] - start).total_seconds() / 60
    report.allowed_downtime_minutes = round(month_minutes * (1 - TARGET), 2)
    effective = [r["latency_us"] for r in probes if r["door"] == "effective" and r["ok"]]
    if effective:
        report.effective_time_ms = round(sum(effective) / len(effective) / 1000, 3)
    reads = [m for m in minutes if not m["door"].startswith("register:")]
    report.resolution = latency_of(reads)
    report.registration = latency_of([m for m in minutes if m["door"].startswith("register:")])
    for door in sorted({m["door"] for m in reads}):
        report.per_door[door] = latency_of([m for m in reads if m["door"] == door])
    report.maintenance_windows = [
        {"starts_at": str(w["starts_at"]), "ends_at": str(w["ends_at"]), "reason": w["reason"]}
        for w in windows
    ]
    report.incidents = [
        {"door": e["door"], "condition": e["condition"], "type": e["event_type"],
         "started_at": str(e["started_at"]), "recovered_at": str(e["recovered_at"] or ""),
         "detail": e["detail"]}
        for e in events
    ]  # fmt: skip
    return report


async def _tenant_figures(start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Per tenant: resolutions and not-found answers (the usage counters) in the month."""
    from resolver.tables import ResolutionCount
    from tenants.accounts.tables import Tenant

    first, last = (
        start.astimezone(SHANGHAI).date(),
        (end - timedelta(seconds=1)).astimezone(SHANGHAI).date(),
    )
    tenants = await Tenant.select(Tenant.id, Tenant.prefix, Tenant.name).order_by(Tenant.id).run()
    counts = await (
        ResolutionCount.select()
        .where((ResolutionCount.day >= first) & (ResolutionCount.day <= last))
        .run()
    )
    out = []
    for t in tenants:
        mine = [c for c in counts if c["tenant_id"] == t["id"]]
        out.append({"prefix": t["prefix"], "name": t["name"],
                    "resolutions": sum(c["resolutions"] for c in mine),
                    "not_found": sum(c["not_found"] for c in mine)})  # fmt: skip
    return out


def as_dict(report: MonthlyReport) -> dict[str, Any]:
    return asdict(report)


def _latency_line(name: str, lat: Latency) -> str:
    return f"{name}: avg {lat.avg_ms} ms, max {lat.max_ms} ms, min {lat.min_ms} ms over {lat.count}"


def as_text(report: MonthlyReport) -> str:
    a = "no probe data" if report.availability is None else f"{report.availability * 100:.4f}%"
    eff = report.effective_time_ms
    lines = [
        f"Monthly report {report.month} (Asia/Shanghai), "
        f"{report.period_start} .. {report.period_end}",
        f"availability (可用性): {a} over {report.probe_rounds} probe rounds "
        f"({report.down_rounds} down, {report.maintenance_rounds} in maintenance)",
        f"downtime: {report.downtime_minutes} min "
        f"(99.99% allows {report.allowed_downtime_minutes} min)",
        f"operating hours: {report.operating_hours}",
        _latency_line("resolution RTT", report.resolution),
        _latency_line("registration RTT", report.registration),
        "registration effective time: " + ("not measured" if eff is None else f"{eff} ms"),
    ]
    lines += [_latency_line(f"  door {door}", lat) for door, lat in report.per_door.items()]
    lines.append(f"maintenance windows: {len(report.maintenance_windows)}")
    lines += [f"  {w['starts_at']} .. {w['ends_at']} {w['reason']}"
              for w in report.maintenance_windows]  # fmt: skip
    lines.append(f"incidents: {len(report.incidents)}")
    lines += [f"  {i['started_at']} {i['door']} {i['condition']} (type {i['type']}) "
              f"recovered {i['recovered_at'] or 'not yet'}" for i in report.incidents]  # fmt: skip
    lines.append("tenants:")
    lines += [f"  {t['prefix']} {t['name']}: {t['resolutions']} resolutions, "
              f"{t['not_found']} not found" for t in report.tenants]  # fmt: skip
    return "\n".join(lines) + "\n"


def as_csv(report: MonthlyReport) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["section", "name", "value"])
    for key in ("month", "probe_rounds", "maintenance_rounds", "down_rounds", "availability",
                "downtime_minutes", "allowed_downtime_minutes", "operating_hours",
                "effective_time_ms"):  # fmt: skip
        w.writerow(["node", key, getattr(report, key)])
    for name, lat in (("resolution", report.resolution), ("registration", report.registration)):
        for k, v in asdict(lat).items():
            w.writerow([name, k, v])
    for door, lat in report.per_door.items():
        w.writerow([f"door:{door}", "avg_ms", lat.avg_ms])
    for t in report.tenants:
        w.writerow([f"tenant:{t['prefix']}", "resolutions", t["resolutions"]])
    return out.getvalue()


def as_pdf(report: MonthlyReport) -> bytes:
    from core.pdf import document

    a = "-" if report.availability is None else f"{report.availability * 100:.4f}%"
    node: list[list[Any]] = [
        ["figure", "value"],
        ["availability 可用性", a],
        ["probe rounds / down / maintenance",
         f"{report.probe_rounds} / {report.down_rounds} / {report.maintenance_rounds}"],
        ["downtime (min) / allowed at 99.99%",
         f"{report.downtime_minutes} / {report.allowed_downtime_minutes}"],
        ["operating hours", report.operating_hours],
        ["resolution RTT avg / max (ms)",
         f"{report.resolution.avg_ms} / {report.resolution.max_ms}"],
        ["registration RTT avg / max (ms)",
         f"{report.registration.avg_ms} / {report.registration.max_ms}"],
        ["registration effective time (ms)", report.effective_time_ms or "not measured"],
    ]  # fmt: skip
    doors = [["door", "resolutions", "avg ms", "max ms"]] + [
        [d, lat.count, lat.avg_ms, lat.max_ms] for d, lat in report.per_door.items()
    ]
    windows = [["from", "to", "reason"]] + [
        [w["starts_at"], w["ends_at"], w["reason"]] for w in report.maintenance_windows
    ]
    incidents = [["started", "door", "condition", "type", "recovered"]] + [
        [i["started_at"], i["door"], i["condition"], i["type"], i["recovered_at"]]
        for i in report.incidents
    ]
    tenants = [["prefix", "name", "resolutions", "not found"]] + [
        [t["prefix"], t["name"], t["resolutions"], t["not_found"]] for t in report.tenants
    ]
    return document(
        f"月度运行报告 Monthly report {report.month}",
        [("节点 Node", node), ("按入口 Per door", doors), ("维护窗口 Maintenance", windows),
         ("事件 Incidents", incidents), ("企业节点 Tenants", tenants)],
    )  # fmt: skip
