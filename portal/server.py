"""Runs the app under Hypercorn (the default) or Granian: one process, or N workers
sharing the port.

The default bind is ``[::]``, which on Linux accepts IPv4 and IPv6 on one socket
(dual-stack). Where the host has no IPv6, it falls back to ``0.0.0.0``.

Granian (``idnest serve --server granian``, the ``granian`` extra) is an option for the
resolver tier: its HTTP/1 loop is in Rust. Each of its workers imports ``portal.asgi:app``
and runs the same ASGI lifespan as a Hypercorn worker (pools, bus, scheduler, and the wire
door, which every worker joins with SO_REUSEPORT); its main process turns SIGTERM and
SIGINT into a graceful stop of the workers, each finishing its lifespan shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket

from hypercorn.config import Config

from core.settings import Settings

log = logging.getLogger("idnest.server")


def _ipv6_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::", 0))
        return True
    except OSError:
        return False


def bind_address(host: str, port: int) -> str:
    if host in ("::", "[::]") and not _ipv6_available():
        host = "0.0.0.0"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


def hypercorn_config(settings: Settings, host: str, port: int, workers: int) -> Config:
    config = Config()
    config.bind = [bind_address(host, port)]
    config.workers = max(1, workers)
    config.worker_class = "uvloop"
    config.accesslog = None
    config.errorlog = "-"
    config.loglevel = settings.log_level
    config.keep_alive_timeout = 75
    config.graceful_timeout = 5
    config.application_path = "portal.asgi:app"
    return config


SERVERS = ("hypercorn", "granian")
# Seconds a Granian worker has to finish its lifespan shutdown (in-flight requests, the
# scheduler's running job, counters flushed, pools closed) after SIGTERM before it is
# killed. Hypercorn waits for its workers without a limit; 10 s was seen to cut a worker
# off on this 2-core machine under load, losing its unflushed counts.
GRANIAN_KILL_TIMEOUT = 30


class ServerMissing(RuntimeError):
    """The chosen server's package is not installed."""


def run_granian(settings: Settings, *, host: str, port: int, workers: int) -> None:
    try:
        from granian import Granian
        from granian.constants import HTTPModes, Interfaces, Loops
        from granian.log import LogLevels
    except ImportError as exc:
        raise ServerMissing("Granian is not installed: pip install 'idnest[granian]'") from exc
    bind = bind_address(host, port)
    address = bind.rsplit(":", 1)[0].strip("[]")
    log.info("idnest serving on %s under Granian with %d worker(s)", bind, workers)
    Granian(
        "portal.asgi:app",
        address=address,
        port=port,
        interface=Interfaces.ASGI,  # with the lifespan protocol
        workers=max(1, workers),
        loop=Loops.uvloop,
        http=HTTPModes.http1,
        websockets=False,
        backlog=1024,
        # core.logging configures the app's loggers in each worker (portal.asgi); Granian's
        # own lines follow the same level.
        log_level=LogLevels(settings.log_level.lower()),
        log_access=False,
        workers_kill_timeout=GRANIAN_KILL_TIMEOUT,
    ).serve()


def run_server(
    settings: Settings, *, host: str, port: int, workers: int, server: str = "hypercorn"
) -> None:
    if server == "granian":
        run_granian(settings, host=host, port=port, workers=workers)
        return
    config = hypercorn_config(settings, host, port, workers)
    log.info("idnest serving on %s with %d worker(s)", config.bind[0], config.workers)
    if config.workers > 1:
        from hypercorn.run import run

        run(config)
        return
    import uvloop
    from hypercorn.asyncio import serve

    from portal.app import create_app

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(create_app(settings), config, shutdown_trigger=stop.wait)

    uvloop.run(main())
