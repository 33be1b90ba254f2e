"""One entry point per process kind, the scheduler-only process, and the image's health check.

The container image (Dockerfile) runs one of four kinds of process, each with an entry
point of its own (console scripts in pyproject.toml):

- ``idnest-web``: ``idnest serve`` without the wire door (the resolver kind has it) and
  without the periodic jobs (the scheduler kind runs them);
- ``idnest-resolver``: ``idnest resolver``, the Handle wire protocol on UDP+TCP;
- ``idnest-worker``: ``idnest worker``, the Dramatiq workers (needs a broker);
- ``idnest-scheduler``: ``idnest scheduler``, the periodic jobs only.

Each passes its arguments on (``idnest-resolver --processes 2``). A setting given in the
environment wins over the kind's default (``IDNEST_SCHEDULER_ENABLED=true idnest-web``).

``idnest healthcheck`` is the image's HEALTHCHECK: it finds which kind runs as the
container's first process (``/proc/1/cmdline``) and checks that kind: ``/healthz`` over
HTTP, GET_SITE_INFO over UDP, the scheduler's heartbeat file, the worker's broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from pathlib import Path

import click

from portal.cli import main, run_async

HEARTBEAT = "scheduler.heartbeat"


def _run_kind(args: list[str], defaults: dict[str, str] | None = None) -> None:
    for name, value in (defaults or {}).items():
        os.environ.setdefault(name, value)
    main.main(args=args + sys.argv[1:], prog_name="idnest")


def web() -> None:
    _run_kind(["serve"], {"IDNEST_WIRE_ENABLED": "false", "IDNEST_SCHEDULER_ENABLED": "false"})


def resolver() -> None:
    _run_kind(["resolver"])


def worker() -> None:
    _run_kind(["worker"])


def scheduler_kind() -> None:
    _run_kind(["scheduler"])


def _heartbeat_path() -> Path:
    from core.settings import get_settings

    return get_settings().var_dir / HEARTBEAT


@main.command(help="Run only the periodic jobs (no HTTP, no wire door) until SIGTERM.")
def scheduler() -> None:
    import portal.jobs  # noqa: F401 - registers every periodic job
    from core.scheduler import Scheduler, log
    from core.settings import get_settings

    settings = get_settings()
    beat = _heartbeat_path()
    beat.parent.mkdir(parents=True, exist_ok=True)

    async def run() -> None:
        from core.bus import get_bus

        await get_bus().start()
        sched = Scheduler(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        click.echo(f"scheduler: checking every {settings.scheduler_tick:g}s", err=True)
        while not stop.is_set():
            try:
                claimed = await sched.tick()
                beat.write_text(f"{time.time():.0f} {' '.join(claimed)}\n")
            except Exception:
                log.exception("scheduler: due check failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=settings.scheduler_tick)
        await sched.wait_idle()

    run_async(run)


def _first_process() -> list[str]:
    try:
        raw = Path("/proc/1/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _kind_of(argv: list[str]) -> str:
    words = [Path(w).name for w in argv]
    for kind, names in (
        ("scheduler", {"idnest-scheduler", "scheduler"}),
        ("worker", {"idnest-worker", "worker", "dramatiq"}),
        ("resolver", {"idnest-resolver", "resolver"}),
        ("web", {"idnest-web", "serve", "hypercorn"}),
    ):
        if names & set(words):
            return kind
    return "web"


def _check(kind: str) -> str:
    from core.settings import get_settings

    settings = get_settings()
    if kind == "web":
        import httpx

        r = httpx.get(f"http://127.0.0.1:{settings.port}/healthz", timeout=3.0)
        r.raise_for_status()
        return f"web: /healthz {r.status_code}"
    if kind == "resolver":
        from resolver.wire.client import get_site_info_sync

        rc, _ = get_site_info_sync(server=("127.0.0.1", settings.wire_port), timeout=3.0)
        return f"resolver: GET_SITE_INFO rc {rc}"
    if kind == "scheduler":
        beat = _heartbeat_path()
        age = time.time() - beat.stat().st_mtime
        if age > 3 * settings.scheduler_tick + 30:
            raise RuntimeError(f"{beat} is {age:.0f}s old")
        return f"scheduler: heartbeat {age:.0f}s old"
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(settings.broker_url or settings.redis_url)
    if not url.hostname:
        raise RuntimeError("worker: no broker configured")
    port = url.port or (5672 if url.scheme.startswith("amqp") else 6379)
    with socket.create_connection((url.hostname, port), timeout=3.0):
        return f"worker: broker {url.hostname} reachable"


@main.command(help="The container's health check: checks the kind of process running as PID 1.")
@click.option(
    "--kind",
    type=click.Choice(["auto", "web", "resolver", "worker", "scheduler"]),
    default="auto",
    show_default=True,
)
def healthcheck(kind: str) -> None:
    if kind == "auto":
        kind = _kind_of(_first_process())
    try:
        click.echo(_check(kind))
    except Exception as exc:  # any failure is "unhealthy", said plainly
        click.echo(f"unhealthy ({kind}): {exc}", err=True)
        sys.exit(1)
