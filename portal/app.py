"""The application factory: every package's routes, one lifespan, one error mapping."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any

from litestar import Litestar
from litestar.di import Provide

import portal.jobs  # noqa: F401 - registers every actor and periodic job
from billing import api as billing_api
from billing.payments import api as payments_api
from core import audit, db, ratelimit
from core.bus import get_bus
from core.gctune import refreeze_when_cache_grew, tune_gc
from core.head import HeadAsGet
from core.health import healthz, readyz
from core.http import EXCEPTION_HANDLERS
from core.openapi import documented
from core.proxy import ForwardedFor, ForwardedScheme
from core.ratelimit_gate import RateLimitGate
from core.replay import ReplayOnFailover
from core.scheduler import Scheduler
from core.settings import Settings, get_settings
from portal import apidocs
from portal import web as portal_web
from portal.web.config import csrf_config, session_config, session_store, static_router
from resolver import api as resolver_api
from resolver import hdl_http, identifier_usage
from resolver import oid as resolver_oid
from resolver.fastpath import ResolutionFastPath
from resolver.observability import api as observability_api
from resolver.observability.metering import DoorMeter
from resolver.observability.runtime import observe, observe_forever, stop_observing
from resolver.runtime import build_resolver
from resolver.service import Resolver
from resolver.wire.listener import start_wire
from resolver.wire.server import WireServer
from tenants.accounts.services.apikeys import flush_last_used
from tenants.auth import DEPENDENCIES as auth_dependencies
from tenants.clients import api as clients_api
from tenants.devices import api as devices_api
from tenants.grants import api as grants_api
from tenants.identifiers import jobs as bulk_jobs
from tenants.identifiers.api import bulk as bulk_api
from tenants.identifiers.api import handles as handles_api
from tenants.identifiers.api import lifecycle as lifecycle_api
from tenants.identifiers.api import search as search_api
from tenants.identifiers.api import snms as snms_api
from tenants.ownership import api as ownership_api
from tenants.ownership import jobs as ownership_jobs
from tenants.schemes import api as schemes_api

log = logging.getLogger("idnest.app")


async def _flush_forever(resolver: Resolver, interval: float) -> None:
    frozen_at = 0
    while True:
        await asyncio.sleep(interval)
        await _flush_once(resolver)
        frozen_at = refreeze_when_cache_grew(len(resolver.cache), frozen_at)


async def _flush_once(resolver: Resolver) -> None:
    try:
        await resolver.counters.flush()
        await flush_last_used()
    except Exception:
        log.exception("periodic flush failed")


class _Shutdown:
    """Times each step of the lifespan shutdown and names the slow ones in the log: a
    server kills a worker whose shutdown overruns (Granian after GRANIAN_KILL_TIMEOUT),
    and the counts it still held are then lost, so the log should say which step took
    the time."""

    SLOW = 2.0  # seconds; a step this slow is logged as a warning

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.took: list[str] = []

    async def step(self, name: str, work: Awaitable[object]) -> None:
        began = time.monotonic()
        await work
        took = time.monotonic() - began
        self.took.append(f"{name} {took:.2f}s")
        if took >= self.SLOW:
            log.warning("shutdown: %s took %.1f s", name, took)

    def done(self) -> None:
        log.info("shutdown done in %.2f s (%s)", time.monotonic() - self.started,
                 ", ".join(self.took))  # fmt: skip


# The tenant-facing JSON APIs beside its records: exports, machine clients, grants.
TENANT_APIS = (
    *ownership_api.ROUTES, *clients_api.ROUTES, *grants_api.ROUTES, *devices_api.ROUTES,
    *lifecycle_api.ROUTES, *identifier_usage.ROUTES,
)  # fmt: skip


def create_app(settings: Settings | None = None) -> Any:
    settings = settings or get_settings()
    bus = get_bus()
    resolver = build_resolver(settings, bus)
    http_wire = WireServer(resolver, settings)  # the Handle protocol's HTTP interface
    observe(resolver, settings, "http")

    @contextlib.asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await db.start(settings)
        await bus.start()
        flusher = asyncio.create_task(_flush_forever(resolver, settings.counter_flush_interval))
        observer = asyncio.create_task(observe_forever(settings))
        await bulk_jobs.resume_unfinished()
        await ownership_jobs.resume_unfinished()
        # Periodic jobs (idempotency purge, template sync): every process checks, the
        # database lets one of them run each period.
        scheduler = Scheduler(settings) if settings.scheduler_enabled else None
        if scheduler is not None:
            scheduler.start()
        # The Handle wire door (UDP+TCP 2641) on the same resolver; a failed bind only warns.
        wire = await start_wire(resolver, settings) if settings.wire_enabled else None
        tune_gc()
        try:
            yield
        finally:
            stopping = _Shutdown()
            if wire is not None:
                await stopping.step("wire door", wire.stop())
            await stopping.step("bulk jobs", bulk_jobs.stop_local())
            await stopping.step("ownership jobs", ownership_jobs.stop_local())
            if scheduler is not None:
                await stopping.step("scheduler", scheduler.stop())
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            await stopping.step("counters", _flush_once(resolver))
            await stopping.step("observations", stop_observing(observer, settings))
            await stopping.step("audit chain", audit.flush())
            await stopping.step("bus", bus.stop())
            await stopping.step("database", db.stop())
            stopping.done()

    app = Litestar(
        route_handlers=[
            healthz,
            readyz,
            *observability_api.ROUTES,
            *resolver_api.ROUTES,
            *handles_api.ROUTES,
            *schemes_api.ROUTES,
            *resolver_oid.ROUTES,
            *portal_web.ROUTES,
            static_router(),
            apidocs.assets_router(),
            *search_api.ROUTES,
            *snms_api.ROUTES,
            *bulk_api.ROUTES,
            *TENANT_APIS,
            *hdl_http.ROUTES,
            *billing_api.ROUTES,
            *payments_api.ROUTES,
        ],
        middleware=[session_config(settings).middleware],
        csrf_config=csrf_config(settings),
        stores={"sessions": session_store(settings)},
        dependencies={
            **auth_dependencies,
            "resolver": Provide(lambda: resolver, sync_to_thread=False),
            "wire": Provide(lambda: http_wire, sync_to_thread=False),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        openapi_config=apidocs.openapi_config(),
        # core.logging configures every process from IDNEST_LOG_LEVEL; Litestar's default
        # config would set the root logger to INFO again in each Hypercorn worker.
        logging_config=None,
        debug=False,
    )
    return _layers(documented(app), settings, resolver)


def _layers(app: Litestar, settings: Settings, resolver: Any) -> Any:
    """The ASGI layers around the framework, innermost first. A write whose transaction
    lost the primary before COMMIT runs once more (core.replay); the fast path answers
    cache hits (they set no cookie and need no scheme); the rate-limit gate counts
    anonymous requests per source before it (core/ratelimit.py); outermost, every door's
    resolutions are metered, the fast path's as well; around them all, the client address
    a trusted proxy reports (core/proxy.py)."""
    writes = ReplayOnFailover(app, settings.failover_retry_delay)
    fast = ResolutionFastPath(ForwardedScheme(HeadAsGet(writes), settings), resolver)
    gated = RateLimitGate(fast, ratelimit.configure(settings), fast.gs1.claims)
    outer = DoorMeter(gated, fast.gs1.claims, resolver) if settings.observability_enabled else gated
    # Only behind trusted proxies does a request's address come from a header.
    return ForwardedFor(outer, settings) if settings.trusted_proxies.strip() else outer
