"""Sockets and processes for the wire server: UDP and TCP on IPv4 and IPv6.

Why explicit sockets: asyncio's ``start_server`` sets IPV6_V6ONLY on "::", so "::" is
bound as two sockets per protocol (0.0.0.0 and :: with V6ONLY), each with SO_REUSEPORT
so every Hypercorn worker or ``idnest resolver`` process joins the same port and the
kernel spreads datagrams and connections between them. A failed bind (port in use, no
IPv6) is logged and the rest keeps serving; ``start_wire`` never raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from typing import Any

from core.settings import Settings
from resolver.service import Resolver
from resolver.wire.server import WireServer
from resolver.wire.tcp import stream_protocol

log = logging.getLogger("idnest.wire")


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, server: WireServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def _send(self, frame: bytes, addr: Any) -> None:
        transport = self.transport
        if transport is None:
            return
        if len(frame) <= 512:  # the usual case, without the splitter's call
            transport.sendto(frame, addr)
            return
        for packet in self.server.udp_datagrams(frame, addr):
            transport.sendto(packet, addr)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            self.server.datagram(data, addr, self._send)
        except Exception:
            self.server.errors += 1
            log.exception("wire datagram from %s failed", addr)

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP port unreachable from a client that went away: nothing to do


def _hosts(host: str) -> list[tuple[socket.AddressFamily, str]]:
    """The sockets for a bind address: "::" is both families, anything else just itself."""
    host = host.strip("[]")
    if host in ("", "::", "*"):
        return [(socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")]
    return [(socket.AF_INET6 if ":" in host else socket.AF_INET, host)]


def _socket(
    family: socket.AddressFamily, kind: socket.SocketKind, host: str, port: int
) -> socket.socket:
    sock = socket.socket(family, kind)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if kind == socket.SOCK_DGRAM:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
        sock.bind((host, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class WireListener:
    def __init__(self, server: WireServer) -> None:
        self.server = server
        self.transports: list[asyncio.BaseTransport] = []
        self.tcp_servers: list[asyncio.Server] = []
        self.bound: list[str] = []

    async def start(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        for family, address in _hosts(host):
            try:
                udp = _socket(family, socket.SOCK_DGRAM, address, port)
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _Datagrams(self.server), sock=udp
                )
                self.transports.append(transport)
                tcp = _socket(family, socket.SOCK_STREAM, address, port)
                server = await loop.create_server(
                    stream_protocol(self.server), sock=tcp, backlog=1024
                )
                self.tcp_servers.append(server)
                self.bound.append(f"{address}:{port}")
            except OSError as exc:
                log.warning("wire protocol: cannot listen on [%s]:%s (%s)", address, port, exc)

    async def stop(self) -> None:
        for transport in self.transports:
            transport.close()
        for server in self.tcp_servers:
            server.close()
        for server in self.tcp_servers:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await server.wait_closed()
        for task in list(self.server.tasks):
            task.cancel()
        self.transports.clear()
        self.tcp_servers.clear()
        with contextlib.suppress(Exception):
            await self.server.challenges.close()


async def start_wire(
    resolver: Resolver, settings: Settings, *, port: int | None = None
) -> WireListener | None:
    """Start listening (UDP + TCP); None, with a warning, when nothing could be bound."""
    try:
        listener = WireListener(WireServer(resolver, settings))
        host = settings.wire_host or settings.host
        await listener.start(host, settings.wire_port if port is None else port)
    except Exception:
        log.exception("wire protocol: could not start; HTTP keeps serving")
        return None
    if not listener.bound:
        log.warning(
            "wire protocol: port %s could not be bound; HTTP keeps serving without it",
            settings.wire_port,
        )
        await listener.stop()
        return None
    log.info("wire protocol listening on %s (UDP+TCP)", ", ".join(listener.bound))
    return listener


async def serve_resolver(settings: Settings) -> None:
    """One ``idnest resolver`` process: database, bus, resolver, listener, until SIGTERM."""
    from core import audit, db
    from core.bus import get_bus
    from core.gctune import refreeze_when_cache_grew, tune_gc
    from resolver.observability.runtime import observe, observe_forever, stop_observing
    from resolver.runtime import build_resolver

    await db.start(settings)
    bus = get_bus()
    await bus.start()
    resolver = build_resolver(settings, bus)
    observe(resolver, settings, "wire")
    listener = await start_wire(resolver, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def flush() -> None:
        frozen_at = 0
        while True:
            await asyncio.sleep(settings.counter_flush_interval)
            await resolver.counters.flush()
            frozen_at = refreeze_when_cache_grew(len(resolver.cache), frozen_at)

    flusher = loop.create_task(flush())
    tune_gc()  # as the web app's lifespan does: no full collections on the hot path
    observer = loop.create_task(observe_forever(settings))
    try:
        if listener is not None:
            await stop.wait()
    finally:
        flusher.cancel()
        if listener is not None:
            await listener.stop()
        await resolver.counters.flush()
        await stop_observing(observer, settings)
        await audit.flush()
        await bus.stop()
        await db.stop()


def run_resolver_process(settings: Settings) -> None:
    """A process's entry point (spawned by ``idnest resolver --processes N``)."""
    from core.logging import configure_logging

    configure_logging(settings.log_level)
    try:
        import uvloop

        uvloop.run(serve_resolver(settings))
    except ImportError:  # pragma: no cover - uvloop is a dependency
        asyncio.run(serve_resolver(settings))
    except KeyboardInterrupt:
        pass
