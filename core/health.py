"""Liveness and readiness.

``/healthz`` says the process answers. ``/readyz`` says it can do its job: the
database answers, and Redis too when it is configured.
"""

from __future__ import annotations

from typing import Any

from litestar import Response, get

from core import db
from core.bus import RedisInvalidationBus, get_bus


@get("/healthz", tags=["Service"], summary="Liveness", include_in_schema=True)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", tags=["Service"], summary="Readiness: database and Redis reachable")
async def readyz() -> Response[dict[str, Any]]:
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
    return Response(
        {"status": "ready" if ready else "not ready", **checks}, status_code=200 if ready else 503
    )
