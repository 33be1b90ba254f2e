"""Abnormal events: thresholds per door, raised to the top-level node and to staff.

Conditions are judged from measured data over a window, so the job keeps no state of
its own and any process may run it:
- ``error_rate`` (type 2, system): errors / resolutions of a door, per minute;
- ``latency`` (type 2, system): average latency of a door, per minute;
- ``probe`` (type 1, network): the prober's rounds for a door failed;
- ``rate_limited`` (type 3, attack) is not judged yet (docs/observability.md).
An event is raised when the condition held in *every* minute (every probe round) of
``abnormal_raise_minutes``; it recovers when it was below the clearing level (half the
threshold: hysteresis) in every minute of ``abnormal_recover_minutes``. A flap, bad one
minute and good the next, raises nothing. Minutes inside a maintenance window count
as neither. Raising and recovering each enqueue one outbox message (core.outbox).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from core.outbox import enqueue
from core.settings import Settings
from core.tenancy import cross_tenant
from resolver.observability.tables import AbnormalEvent, DoorMinute, ProbeResult

EVENT_TYPES = {"probe": 1, "error_rate": 2, "latency": 2}
TOPIC_RAISED, TOPIC_RECOVERED = "upstream.abnormal", "upstream.recovered"


@dataclass(frozen=True)
class Decision:
    door: str
    condition: str
    action: str  # "raise" or "recover"
    detail: str


def decide(is_open: bool, values: Sequence[float | None], threshold: float, need: int,
           recover_need: int) -> str | None:  # fmt: skip
    """ "raise", "recover" or None, from the newest-last values of the window (None: no data)."""
    if not is_open:
        window = values[-need:]
        if len(window) >= need and all(v is not None and v >= threshold for v in window):
            return "raise"
        return None
    window = values[-recover_need:]
    if len(window) >= recover_need and all(v is not None and v < threshold / 2 for v in window):
        return "recover"
    return None


def _per_minute(rows: list[dict[str, Any]], settings: Settings) -> dict[str, dict[str, list]]:
    """door -> condition -> values per minute, oldest first."""
    out: dict[str, dict[str, list[float | None]]] = {}
    for row in sorted(rows, key=lambda r: r["minute"]):
        if row["door"].startswith("register:"):
            continue
        n = row["requests"]
        enough = n >= settings.abnormal_min_requests
        conds = out.setdefault(row["door"], {"error_rate": [], "latency": []})
        conds["error_rate"].append(row["errors"] / n if enough else None)
        conds["latency"].append(row["latency_sum_us"] / n / 1000 if n else None)
    return out


def _probe_values(rows: list[dict[str, Any]]) -> dict[str, list[float | None]]:
    """door -> per round 1.0 (failed on some family) or 0.0, oldest first; None in maintenance."""
    rounds: dict[tuple[str, Any], list[dict[str, Any]]] = {}
    for row in rows:
        if row["door"] != "effective":
            rounds.setdefault((row["door"], row["round_at"]), []).append(row)
    out: dict[str, list[float | None]] = {}
    for (door, _), probes in sorted(rounds.items(), key=lambda kv: kv[0][1]):
        bad = (
            None
            if any(p["maintenance"] for p in probes)
            else float(not all(p["ok"] for p in probes))
        )
        out.setdefault(door, []).append(bad)
    return out


async def judge(settings: Settings, now: datetime) -> list[Decision]:
    window = max(settings.abnormal_raise_minutes, settings.abnormal_recover_minutes)
    since = now - timedelta(minutes=window)
    async with cross_tenant("maintenance"):
        minutes = await DoorMinute.select().where(
            (DoorMinute.minute >= since) & (DoorMinute.minute < now)).run()  # fmt: skip
        probes = await ProbeResult.select().where(
            (ProbeResult.round_at >= since) & (ProbeResult.round_at <= now)).run()  # fmt: skip
        open_rows = await AbnormalEvent.select().where(AbnormalEvent.recovered_at.is_null()).run()
    opened = {(r["door"], r["condition"]) for r in open_rows}
    thresholds = {"error_rate": settings.abnormal_error_rate,
                  "latency": settings.abnormal_latency_ms, "probe": 1.0}  # fmt: skip
    series: dict[tuple[str, str], list[float | None]] = {}
    for door, conds in _per_minute(minutes, settings).items():
        for cond, values in conds.items():
            series[(door, cond)] = values
    for door, values in _probe_values(probes).items():
        series[(door, "probe")] = values
    for key in opened - set(series):
        series[key] = []
    decisions = []
    for (door, cond), values in sorted(series.items()):
        need = (
            settings.abnormal_raise_minutes if cond != "probe" else settings.abnormal_probe_rounds
        )
        action = decide((door, cond) in opened, values, thresholds[cond], need,
                        settings.abnormal_recover_minutes if cond != "probe" else need)  # fmt: skip
        if action:
            last = next((v for v in reversed(values) if v is not None), None)
            decisions.append(Decision(door, cond, action, f"{cond} {last} (threshold "
                                                         f"{thresholds[cond]})"))  # fmt: skip
    return decisions


async def _raise(d: Decision, now: datetime) -> None:
    row = AbnormalEvent(
        door=d.door, condition=d.condition, started_at=now,
        event_type=EVENT_TYPES[d.condition], detail=d.detail[:1024],
    )  # fmt: skip
    await AbnormalEvent.insert(row).run()
    payload = {"event_id": row.id, "type": row.event_type, "door": d.door,
               "condition": d.condition, "at": now.isoformat(), "detail": d.detail}  # fmt: skip
    await enqueue(TOPIC_RAISED, payload)


async def _recover(d: Decision, now: datetime) -> None:
    which = (
        (AbnormalEvent.door == d.door)
        & (AbnormalEvent.condition == d.condition)
        & AbnormalEvent.recovered_at.is_null()
    )
    rows = await AbnormalEvent.select(AbnormalEvent.id, AbnormalEvent.event_type).where(which).run()
    await AbnormalEvent.update({AbnormalEvent.recovered_at: now}).where(which).run()
    for r in rows:
        payload = {"event_id": r["id"], "type": r["event_type"], "door": d.door,
                   "condition": d.condition, "at": now.isoformat()}  # fmt: skip
        await enqueue(TOPIC_RECOVERED, payload)


async def apply(decisions: list[Decision], now: datetime) -> list[str]:
    """Record and enqueue each decision (one transaction each); the summary lines."""
    for d in decisions:
        async with cross_tenant("maintenance", write=True):
            await (_raise(d, now) if d.action == "raise" else _recover(d, now))
    return [f"{d.action} {d.door} {d.condition}" for d in decisions]


async def check_abnormal(settings: Settings, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return "; ".join(await apply(await judge(settings, now), now)) or "all normal"
