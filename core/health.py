"""Liveness and readiness.

``/healthz`` says the process answers. ``/readyz`` says it can do its job: the
database answers, and Redis too when it is configured.
"""

from __future__ import annotations

import msgspec
from litestar import Response, get

from core import db
from core.bus import RedisInvalidationBus, get_bus
from core.openapi import ok


class Liveness(msgspec.Struct):
    status: str  # ok


class Readiness(msgspec.Struct):
    status: str  # ready, not ready
    database: str  # ok, or why not
    redis: str  # ok, not configured (embedded profile), or why not


@get("/healthz", tags=["Service"], summary="Liveness", include_in_schema=True)
async def healthz() -> Liveness:
    return Liveness("ok")


NOT_READY = ok(Readiness, 503, description="Not ready: says why")


@get("/readyz", tags=["Service"], summary="Readiness: database and Redis reachable",
     responses={**ok(Readiness), **NOT_READY})  # fmt: skip
async def readyz() -> Response[Readiness]:
    checks: dict[str, str] = {}
    try:
        await db.ping()
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    bus = get_bus()
    if isinstance(bus, RedisInvalidationBus):
        try:
            await bus.ping()
            checks["redis"] = "ok" if bus.connected else "subscription lost"
        except Exception as exc:
            checks["redis"] = f"unreachable: {type(exc).__name__}"
    else:
        checks["redis"] = "not configured (embedded profile)"
    ready = checks["database"] == "ok" and checks["redis"] in (
        "ok",
        "not configured (embedded profile)",
    )
    answer = Readiness("ready" if ready else "not ready", checks["database"], checks["redis"])
    return Response(answer, status_code=200 if ready else 503)
