"""The built-in prober: a canary identifier resolved through every door, IPv4 and IPv6.

Each round resolves the canary over REST, the proxy, the GS1 door (its resolver
description), and the Handle wire protocol over UDP and TCP, against the loopback
addresses of this node (or ``prober_http_url`` / ``prober_wire_host``), and records one
row per door and address family. Those rows are the availability figure of the monthly
report; a round inside a maintenance window is recorded as maintenance. The same rounds
run from outside the cluster with ``idnest probe --http URL --wire HOST:PORT``.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from core.settings import Settings
from core.tenancy import cross_tenant
from resolver.observability.tables import MaintenanceWindow, ProbeResult


@dataclass(frozen=True)
class Probe:
    door: str
    family: str
    ok: bool
    latency_us: int
    detail: str = ""


@dataclass(frozen=True)
class Targets:
    http: list[tuple[str, str]]  # (family, base URL)
    wire: list[tuple[str, str, int]]  # (family, host, port)
    canary: str
    gs1_path: str
    # Self-deployed tenants' servers: (prefix, family, host, port), each a door
    # ``enterprise:{prefix}`` of its own (docs/enterprise.md).
    enterprise: tuple[tuple[str, str, str, int], ...] = ()


async def default_canary(settings: Settings) -> str:
    """The configured canary, or ``0.NA/{prefix}`` of the oldest active tenant."""
    if settings.prober_handle:
        return settings.prober_handle
    from tenants.accounts.tables import Tenant

    async with cross_tenant("resolver"):
        row = (
            await Tenant.select(Tenant.prefix)
            .where(Tenant.status == "active")
            .order_by(Tenant.id)
            .first()
            .run()
        )
    return f"0.NA/{row['prefix']}" if row else ""


def local_targets(settings: Settings, canary: str) -> Targets:
    if settings.prober_http_url:
        http = [("ipv4" if "[" not in settings.prober_http_url else "ipv6",
                 settings.prober_http_url.rstrip("/"))]  # fmt: skip
    else:
        http = [("ipv4", f"http://127.0.0.1:{settings.port}")]
        if settings.host in ("::", "::1"):
            http.append(("ipv6", f"http://[::1]:{settings.port}"))
    wire: list[tuple[str, str, int]] = []
    if settings.wire_enabled:
        host = settings.prober_wire_host
        if host:
            wire = [("ipv6" if ":" in host else "ipv4", host, settings.wire_port)]
        else:
            wire = [("ipv4", "127.0.0.1", settings.wire_port)]
            if settings.host in ("::", "::1"):
                wire.append(("ipv6", "::1", settings.wire_port))
    return Targets(http, wire, canary, settings.prober_gs1_path)


async def _http(client: httpx.AsyncClient, door: str, family: str, url: str) -> Probe:
    started = time.perf_counter()
    try:
        r = await client.get(url, headers={"accept": "application/json"})
        ok, detail = r.status_code in (200, 302), f"HTTP {r.status_code}"
    except httpx.HTTPError as exc:
        ok, detail = False, f"{type(exc).__name__}: {exc}"[:255]
    return Probe(door, family, ok, int((time.perf_counter() - started) * 1e6), detail)


async def _wire(transport: str, family: str, host: str, port: int, canary: str, t: float) -> Probe:
    from resolver.wire.client import resolve

    started = time.perf_counter()
    try:
        rc, _ = await resolve(canary, server=(host, port), transport=transport,  # type: ignore[arg-type]
                              timeout=t)  # fmt: skip
        ok, detail = rc == 1, f"rc {rc}"
    except (OSError, TimeoutError) as exc:
        ok, detail = False, f"{type(exc).__name__}: {exc}"[:255]
    return Probe(f"wire-{transport}", family, ok, int((time.perf_counter() - started) * 1e6),
                 detail)  # fmt: skip


async def probe_round(targets: Targets, limit: float = 5.0) -> list[Probe]:
    """One round through every door and family (sequential: a probe is not a load test)."""
    probes: list[Probe] = []
    async with httpx.AsyncClient(timeout=limit, follow_redirects=False) as client:
        for family, base in targets.http:
            probes.append(
                await _http(client, "rest", family, f"{base}/api/handles/{targets.canary}")
            )
            probes.append(
                await _http(client, "proxy", family, f"{base}/{targets.canary}?noredirect")
            )
            if targets.gs1_path:
                probes.append(await _http(client, "gs1", family, f"{base}{targets.gs1_path}"))
    for family, host, port in targets.wire:
        for transport in ("udp", "tcp"):
            probes.append(await _wire(transport, family, host, port, targets.canary, limit))
    for prefix, family, host, port in targets.enterprise:
        probes.append(await _site_ping(prefix, family, host, port, limit))
    return probes


async def enterprise_targets() -> tuple[tuple[str, str, str, int], ...]:
    """Every active self-deployed tenant's servers (tenants.enterprise), to probe."""
    from tenants.enterprise.services.servers import every_self_deployed

    return tuple(
        (prefix, "ipv6" if ":" in s.address else "ipv4", s.address, s.port)
        for prefix, servers in await every_self_deployed()
        for s in servers
        if "udp" in s.protocols or "tcp" in s.protocols
    )


async def _site_ping(prefix: str, family: str, host: str, port: int, t: float) -> Probe:
    """GET_SITE_INFO to an enterprise's server: every Handle server answers it."""
    from resolver.wire.client import get_site_info
    from resolver.wire.reader import ProtocolError

    started = time.perf_counter()
    try:
        rc, _ = await get_site_info(server=(host, port), timeout=t)
        ok, detail = rc == 1, f"{host} port {port}: rc {rc}"
    except (OSError, TimeoutError, ProtocolError) as exc:
        ok, detail = False, f"{host} port {port}: {type(exc).__name__}: {exc}"[:255]
    return Probe(f"enterprise:{prefix}"[:64], family, ok,
                 int((time.perf_counter() - started) * 1e6), detail)  # fmt: skip


_WAITING: dict[str, asyncio.Future[float]] = {}
_LISTENING: list[int] = []


def _seen(message: str) -> None:
    waiter = _WAITING.pop(message, None)
    if waiter is not None and not waiter.done():
        waiter.set_result(time.perf_counter())


async def effective_probe(settings: Settings, limit: float) -> Probe:
    """Registration effective time: an invalidation published as a write publishes it,
    timed until it has arrived back through the bus (Redis: the same path, and the same
    delay, as every other process's). Without a shared bus and with several workers, a
    change reaches the others only when their entries expire: recorded as not ok."""
    from core.bus import RedisInvalidationBus, get_bus

    bus = get_bus()
    if not isinstance(bus, RedisInvalidationBus) and settings.workers > 1:
        return Probe("effective", "-", False, int(settings.auth_cache_ttl * 1e6), "no shared bus")
    if id(bus) not in _LISTENING:
        bus.subscribe(_seen)
        _LISTENING.append(id(bus))
    token = f"rec:~probe/{secrets.token_hex(8)}"
    arrived = _WAITING[token] = asyncio.get_running_loop().create_future()
    started = time.perf_counter()
    try:
        await bus.publish(token)
        async with asyncio.timeout(limit):
            done = await arrived
    except (TimeoutError, OSError) as exc:
        _WAITING.pop(token, None)
        return Probe("effective", "-", False, int(limit * 1e6), type(exc).__name__)
    return Probe("effective", "-", True, int((done - started) * 1e6), "bus round trip")


async def in_maintenance(at: datetime) -> bool:
    async with cross_tenant("maintenance"):
        row = (
            await MaintenanceWindow.select(MaintenanceWindow.id)
            .where((MaintenanceWindow.starts_at <= at) & (MaintenanceWindow.ends_at > at))
            .first()
            .run()
        )
    return row is not None


async def record_round(probes: list[Probe], at: datetime) -> None:
    maintenance = await in_maintenance(at)
    now = datetime.now(UTC)
    rows = [
        ProbeResult(at=now, round_at=at, door=p.door, family=p.family, ok=p.ok,
                    latency_us=p.latency_us, detail=p.detail[:255], maintenance=maintenance)
        for p in probes
    ]  # fmt: skip
    if rows:
        async with cross_tenant("maintenance", write=True):
            await ProbeResult.insert(*rows).run()


async def run_prober(settings: Settings, now: datetime | None = None) -> str:
    at = now or datetime.now(UTC)
    canary = await default_canary(settings)
    if not canary:
        return "no canary: no active tenant yet and IDNEST_PROBER_HANDLE unset"
    targets = local_targets(settings, canary)
    targets = Targets(targets.http, targets.wire, canary, targets.gs1_path,
                      await enterprise_targets())  # fmt: skip
    probes = await probe_round(targets, settings.prober_timeout)
    probes.append(await effective_probe(settings, settings.prober_timeout))
    await record_round(probes, at)
    failed = [f"{p.door}/{p.family}: {p.detail}" for p in probes if not p.ok]
    return f"{len(probes) - len(failed)}/{len(probes)} ok" + (
        f" ({'; '.join(failed)})" if failed else ""
    )


def summary(probes: list[Probe]) -> list[dict[str, Any]]:
    return [{"door": p.door, "family": p.family, "ok": p.ok, "ms": round(p.latency_us / 1000, 3),
             "detail": p.detail} for p in probes]  # fmt: skip
