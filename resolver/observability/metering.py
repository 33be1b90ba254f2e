"""Every resolution at every door: counted, timed and logged, off the hot path.

``record(door, result, started, identifier, source)`` is the one call a door makes per
resolution: a histogram bucket in memory (core.metrics) and an entry in the bounded
resolution-log buffer (resolver.observability.reslog). The HTTP doors (REST, proxy, GS1,
OID/Ecode/VAA, SNMS, the Handle protocol over HTTP) are metered by one ASGI wrapper,
``DoorMeter``, that knows the door from the path and the result from the status; the wire
door calls ``record`` itself (resolver.wire.server). Registrations (writes through the REST API and
SNMS) are timed by the same wrapper.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from typing import Any

from core.metrics import BUCKETS, METER, Labels
from resolver.observability.reslog import RESOLUTION_LOG

DOORS = ("rest", "proxy", "gs1", "oid", "ecode", "vaa", "snms", "hdl-http", "wire-udp", "wire-tcp")
RESULTS = ("ok", "not_found", "bad_request", "error")
_RESOLUTION = "idnest_resolution_seconds"
_REGISTRATION = "idnest_registration_seconds"
_NB = len(BUCKETS)
_perf = time.perf_counter
_now = time.time

# Histogram rows made once per (door, result), so that a resolution costs two dict
# look-ups, a bisect and two list updates (~0.25 µs, bench/observability.py).
_ROWS: dict[str, dict[str, list[float]]] = {}
ENABLED = [True]  # off (IDNEST_OBSERVABILITY_ENABLED=false): record() returns at once


def _row(door: str, result: str) -> list[float]:
    labels: Labels = (("door", door), ("result", result))
    row = METER.histograms.setdefault((_RESOLUTION, labels), [0.0] * (_NB + 2))
    _ROWS.setdefault(door, {})[result] = row
    return row


def record(door: str, result: str, started: float, identifier: str, source: str) -> None:
    """Count, time and log one resolution (``started`` from ``time.perf_counter()``)."""
    if not ENABLED[0]:
        return
    elapsed = _perf() - started
    try:
        row = _ROWS[door][result]
    except KeyError:
        row = _row(door, result)
    row[bisect_left(BUCKETS, elapsed)] += 1
    row[-1] += elapsed
    RESOLUTION_LOG.add(_now(), door, identifier, result, source, elapsed)


def reset_for_tests() -> None:
    _ROWS.clear()
    for key in [k for k in METER.histograms if k[0] == _RESOLUTION]:
        del METER.histograms[key]


def result_of_status(status: int) -> str:
    if status < 400:
        return "ok"
    if status == 404 or status == 410:
        return "not_found"
    return "bad_request" if status < 500 else "error"


_WIRE_RESULTS = {
    1: "ok", 302: "ok", 303: "ok", 402: "ok",  # referrals and challenges are answers
    100: "not_found", 200: "not_found", 2: "error", 3: "error",
}  # fmt: skip


def wire_result(frames: list[bytes]) -> str:
    """The result of a wire answer, from its response code (bytes 24-28 of the frame)."""
    if not frames or len(frames[0]) < 28:
        return "error"
    return _WIRE_RESULTS.get(int.from_bytes(frames[0][24:28], "big"), "bad_request")


def door_of(method: str, path: str) -> tuple[str, str] | None:
    """(kind, door) for a metered request: kind "resolve" or "register"; None otherwise."""
    read = method in ("GET", "HEAD")
    if path.startswith("/api/handles/"):
        return ("resolve", "rest") if read else ("register", "rest")
    if path.startswith("/identityv2/data"):
        if read:
            return ("resolve", "snms") if path.startswith("/identityv2/data/detail") else None
        return "register", "snms"
    if not read:
        return ("resolve", "hdl-http") if method == "POST" and _is_handle_path(path) else None
    for door in ("oid", "ecode", "vaa"):
        if path.startswith(f"/{door}/"):
            return "resolve", door
    if _is_handle_path(path):
        return "resolve", "proxy"
    return None


def _is_handle_path(path: str) -> bool:
    return len(path) > 3 and (path[1].isdigit() or path[1:6].lower() == "0.na/") and "/" in path[2:]


class DoorMeter:
    """ASGI wrapper: door and result of every HTTP resolution, and registration latency.

    GS1 Digital Link paths (digits-only first segment) are told apart by ``gs1`` (the
    GS1 door's own ``claims``), given by the caller.
    """

    def __init__(self, app: Any, gs1_claims: Any, resolver: Any = None) -> None:
        self.app = app
        self.gs1_claims = gs1_claims
        self.resolver = resolver  # for callers that reach the app's resolver (tests)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        method: str = scope["method"]
        if self.gs1_claims(path):
            read = method in ("GET", "HEAD")
            found: tuple[str, str] | None = ("resolve", "gs1") if read else None
        else:
            found = door_of(method, path)
        if found is None:
            await self.app(scope, receive, send)
            return
        started = _perf()
        status = [500]

        async def send_and_note(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            kind, door = found
            client = scope.get("client")
            source = client[0] if client else ""
            result = result_of_status(status[0])
            if kind == "resolve":
                record(door, result, started, path[13:] if door == "rest" else path[1:], source)
            else:
                labels = (("door", door), ("method", method), ("result", result))
                METER.observe(_REGISTRATION, labels, _perf() - started)
