"""Node-wide observability tables: resolution logs, probes, per-minute door figures,
maintenance windows and abnormal events (core/tenancy.py says why each is node-wide)."""

from __future__ import annotations

from piccolo.columns import BigInt, Boolean, Integer, Serial, Timestamptz, Varchar
from piccolo.constraints import Unique
from piccolo.table import Table


class ResolutionLogEntry(Table, tablename="resolution_log"):
    id: Serial
    at = Timestamptz(index=True)
    door = Varchar(length=16)
    identifier = Varchar(length=2048, index=True)
    result = Varchar(length=16)
    source = Varchar(length=64, index=True)
    latency_us = Integer(default=0)


class ProbeResult(Table, tablename="probe_results"):
    id: Serial
    at = Timestamptz(index=True)
    # One round probes every door; its rows share ``round_at``.
    round_at = Timestamptz(index=True)
    # A door, or ``enterprise:{prefix}`` for a self-deployed tenant's servers.
    door = Varchar(length=64)
    family = Varchar(length=8)  # ipv4, ipv6 (or "-" for a measurement without a socket)
    ok = Boolean(default=False)
    latency_us = BigInt(default=0)
    detail = Varchar(length=255, default="")
    maintenance = Boolean(default=False)


class DoorMinute(Table, tablename="door_minutes"):
    id: Serial
    minute = Timestamptz(index=True)
    door = Varchar(length=24)
    requests = BigInt(default=0)
    errors = BigInt(default=0)
    latency_sum_us = BigInt(default=0)
    # From the histograms: the upper bound of the slowest bucket used, the lower bound
    # of the fastest (so "max" and "min" are bucket bounds, not single samples).
    latency_max_us = BigInt(default=0)
    latency_min_us = BigInt(default=0)
    # Requests per second over the busiest flush interval of the minute, summed over the
    # processes (an upper bound on the node's true busiest second).
    peak_qps = Integer(default=0)
    unique_minute = Unique(["minute", "door"], name="door_minutes_minute_door_unique")


class MaintenanceWindow(Table, tablename="maintenance_windows"):
    id: Serial
    starts_at = Timestamptz()
    ends_at = Timestamptz()
    reason = Varchar(length=255, default="")
    created_by = Varchar(length=255, default="")


class AbnormalEvent(Table, tablename="abnormal_events"):
    id: Serial
    door = Varchar(length=64)
    condition = Varchar(length=32)  # error_rate, latency, probe
    # The top-level node's types: 1 network, 2 system, 3 attack, 4 other.
    event_type = Integer(default=4)
    started_at = Timestamptz()
    recovered_at = Timestamptz(null=True, default=None)
    detail = Varchar(length=1024, default="")
