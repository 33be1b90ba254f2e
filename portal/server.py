"""Runs the app under Hypercorn: one process, or N workers sharing the port.

The default bind is ``[::]``, which on Linux accepts IPv4 and IPv6 on one socket
(dual-stack). Where the host has no IPv6, it falls back to ``0.0.0.0``.
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


def run_server(settings: Settings, *, host: str, port: int, workers: int) -> None:
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
