"""Metrics: counted in memory in each process, exported together in Prometheus text format.

Calling prometheus-client on every resolution costs a lock and a label look-up (about
1.5 µs measured, its multiprocess mode more: an mmap write); a resolution here must cost
well under one. So each process keeps plain counters (a dictionary of lists, ~0.2 µs a
resolution, bench/observability.py) and writes a snapshot of them to a file in
``metrics_dir`` once per flush interval, and whenever it serves ``/metrics``. The process
that serves ``/metrics`` reads every snapshot (every Hypercorn worker's and every
``idnest resolver`` process's) and adds them up; prometheus-client writes the text format.
That is the multiprocess idea of prometheus-client (one file per process, summed at
scrape time) with the counting kept off its hot path. Snapshots of processes that have
exited stay, so counters never go backwards; ``idnest serve`` empties the directory when
it starts. docs/observability.md lists the metrics.
"""

from __future__ import annotations

import json
import logging
import os
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)

log = logging.getLogger("idnest.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds. Resolutions are answered in tens of microseconds to a few milliseconds;
# registrations take milliseconds; a second or more is an incident.
BUCKETS: tuple[float, ...] = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
)  # fmt: skip
_NB = len(BUCKETS)

Labels = tuple[tuple[str, str], ...]
# name -> help text, for every metric a process may put in its snapshot.
HELP: dict[str, str] = {
    "idnest_resolution_seconds": "Resolution latency per door and result (seconds)",
    "idnest_registration_seconds": "Registration (write) latency per operation (seconds)",
    "idnest_registration_effective_seconds": "Write accepted to resolvable in every process",
}


class Meter:
    """One process's counters and histograms, in plain Python objects."""

    def __init__(self) -> None:
        # (name, labels) -> [bucket counts..., +Inf count, sum]
        self.histograms: dict[tuple[str, Labels], list[float]] = {}
        self.counters: dict[tuple[str, Labels], float] = {}
        # Read at snapshot time: absolute counter values kept elsewhere (cache hits, ...).
        # By name: a process that builds a new resolver (a test's new app) replaces it.
        self.sources: dict[str, Callable[[], Iterable[tuple[str, Labels, float]]]] = {}
        self.started = time.time()
        self.kind = "process"

    def observe(self, name: str, labels: Labels, seconds: float) -> None:
        key = (name, labels)
        row = self.histograms.get(key)
        if row is None:
            row = self.histograms[key] = [0.0] * (_NB + 2)
        row[bisect_left(BUCKETS, seconds)] += 1
        row[-1] += seconds

    def inc(self, name: str, labels: Labels = (), n: float = 1) -> None:
        key = (name, labels)
        self.counters[key] = self.counters.get(key, 0) + n

    def add_source(
        self, name: str, source: Callable[[], Iterable[tuple[str, Labels, float]]]
    ) -> None:
        self.sources[name] = source

    def snapshot(self) -> dict[str, Any]:
        counters = [[n, list(map(list, lb)), v] for (n, lb), v in self.counters.items()]
        for source in self.sources.values():
            try:
                counters.extend([n, list(map(list, lb)), v] for n, lb, v in source())
            except Exception:  # a broken source must not hide the other metrics
                log.exception("metrics source failed")
        histograms = [[n, list(map(list, lb)), row] for (n, lb), row in self.histograms.items()]
        return {"counters": counters, "histograms": histograms}


METER = Meter()


def snapshot_path(directory: Path, meter: Meter = METER) -> Path:
    return directory / f"{meter.kind}-{os.getpid()}-{int(meter.started * 1000)}.json"


def write_snapshot(directory: Path, meter: Meter = METER) -> None:
    """Atomically replace this process's snapshot file."""
    directory.mkdir(parents=True, exist_ok=True)
    path = snapshot_path(directory, meter)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(meter.snapshot()))
    os.replace(tmp, path)


def clear_snapshots(directory: Path) -> None:
    if directory.is_dir():
        for path in directory.glob("*.json"):
            path.unlink(missing_ok=True)


class Totals:
    """Every process's snapshot added up."""

    def __init__(self) -> None:
        self.counters: dict[tuple[str, Labels], float] = {}
        self.histograms: dict[tuple[str, Labels], list[float]] = {}

    def add(self, snap: dict[str, Any]) -> None:
        for name, labels, value in snap.get("counters", ()):
            key = (name, tuple(tuple(p) for p in labels))
            self.counters[key] = self.counters.get(key, 0) + value
        for name, labels, row in snap.get("histograms", ()):
            key = (name, tuple(tuple(p) for p in labels))
            mine = self.histograms.setdefault(key, [0.0] * (_NB + 2))
            for i, v in enumerate(row[: _NB + 2]):
                mine[i] += v

    def counter(self, name: str, **match: str) -> float:
        return sum(
            v for (n, lb), v in self.counters.items()
            if n == name and all(dict(lb).get(k) == want for k, want in match.items())
        )  # fmt: skip


def read_totals(directory: Path) -> Totals:
    totals = Totals()
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else ():
        try:
            totals.add(json.loads(path.read_text()))
        except (OSError, ValueError):  # a half-written file from a crashed process
            log.warning("skipping unreadable metrics snapshot %s", path)
    return totals


class _TotalsCollector:
    def __init__(self, totals: Totals, gauges: Iterable[tuple[str, str, Labels, float]]):
        self.totals = totals
        self.gauges = list(gauges)

    def collect(self) -> Iterable[Any]:
        by_name: dict[str, list[tuple[Labels, Any]]] = {}
        for (name, labels), value in sorted(self.totals.counters.items()):
            by_name.setdefault(name, []).append((labels, value))
        for name, rows in by_name.items():
            base = name.removesuffix("_total")
            family = CounterMetricFamily(base, HELP.get(name, base), labels=_names(rows))
            for labels, value in rows:
                family.add_metric([v for _, v in labels], value)
            yield family
        hists: dict[str, list[tuple[Labels, list[float]]]] = {}
        for (name, labels), row in sorted(self.totals.histograms.items()):
            hists.setdefault(name, []).append((labels, row))
        for name, hrows in hists.items():
            hfamily = HistogramMetricFamily(name, HELP.get(name, name), labels=_names(hrows))
            for labels, row in hrows:
                cumulative, buckets = 0.0, []
                for bound, count in zip((*map(str, BUCKETS), "+Inf"), row[: _NB + 1], strict=True):
                    cumulative += count
                    buckets.append((bound, cumulative))
                hfamily.add_metric([v for _, v in labels], buckets, row[-1])
            yield hfamily
        for name, help_text, labels, value in self.gauges:
            gauge = GaugeMetricFamily(name, help_text, labels=[k for k, _ in labels])
            gauge.add_metric([v for _, v in labels], value)
            yield gauge


def _names(rows: list[tuple[Labels, Any]]) -> list[str]:
    return [k for k, _ in rows[0][0]] if rows else []


def render(totals: Totals, gauges: Iterable[tuple[str, str, Labels, float]] = ()) -> bytes:
    """The Prometheus text format of the totals and of gauges read at scrape time."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_TotalsCollector(totals, gauges))
    return generate_latest(registry)
