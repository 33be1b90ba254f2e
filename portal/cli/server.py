"""Serving: the app, the wire door, the worker, migrations and wire credentials."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click

from portal.cli import main, run_async


def _warn_challenges() -> None:
    click.echo(
        "warning: without IDNEST_REDIS_URL each process keeps its own wire authentication "
        "challenges; a client that answers on a new connection (hdllib does) may reach "
        "another process and be refused. Set IDNEST_REDIS_URL for wire administration.",
        err=True,
    )


@main.command(help="Apply pending migrations and serve the whole app (Hypercorn by default).")
@click.option("--host", default=None, help="bind address (default :: — IPv4 and IPv6)")
@click.option("--port", default=None, type=int, help="HTTP port (default 8000)")
@click.option("--workers", default=None, type=int, help="worker processes")
@click.option(
    "--server", "server_name", type=click.Choice(["hypercorn", "granian"]),
    default="hypercorn", show_default=True,
    help="HTTP server; granian needs the extra: pip install 'idnest[granian]'",
)  # fmt: skip
def serve(host: str | None, port: int | None, workers: int | None, server_name: str) -> None:
    import os

    from core.settings import get_settings
    from portal.server import run_server

    if server_name == "granian":
        import importlib.util

        if importlib.util.find_spec("granian") is None:
            click.echo("error: Granian is not installed: pip install 'idnest[granian]'", err=True)
            sys.exit(2)

    # Through the environment, so that every Hypercorn worker (its own process, reading
    # its own settings) binds the wire door to the same host and advertises in HS_SITE
    # the HTTP port really served.
    if host is not None:
        os.environ["IDNEST_HOST"] = host
    if port is not None:
        os.environ["IDNEST_PORT"] = str(port)
    get_settings.cache_clear()
    settings = get_settings()
    run_async(lambda: asyncio.sleep(0))  # migrations, before any worker starts
    from core.metrics import clear_snapshots

    clear_snapshots(settings.metrics_path)  # the previous run's processes are gone
    workers = workers if workers is not None else settings.workers
    if workers > 1 and settings.wire_enabled and not settings.uses_redis:
        _warn_challenges()
    run_server(
        settings,
        host=host if host is not None else settings.host,
        port=port if port is not None else settings.port,
        workers=workers,
        server=server_name,
    )


@main.command(help="Serve only the Handle wire protocol (UDP+TCP), N processes on one port.")
@click.option("--processes", default=1, type=int, show_default=True)
@click.option("--port", default=None, type=int, help="wire port (default 2641)")
def resolver(processes: int, port: int | None) -> None:
    import multiprocessing

    from core.settings import get_settings
    from resolver.wire.listener import run_resolver_process

    settings = get_settings()
    if port is not None:
        settings = settings.model_copy(update={"wire_port": port})
    run_async(lambda: asyncio.sleep(0))  # migrations, before any process starts
    if processes <= 1:
        run_resolver_process(settings)
        return
    if not settings.uses_redis:
        _warn_challenges()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=run_resolver_process, args=(settings,)) for _ in range(processes)]
    for p in procs:
        p.start()

    def stop(*_: Any) -> None:
        for p in procs:
            if p.is_alive():
                p.terminate()  # SIGTERM: each process closes its sockets and pools

    import signal

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for p in procs:
        p.join()


@main.command(help="Resolve a handle over the Handle wire protocol and print the record.")
@click.option("--udp", "transport", flag_value="udp", default=True, help="UDP (default)")
@click.option("--tcp", "transport", flag_value="tcp", help="TCP")
@click.option("--server", default=None, help="HOST:PORT (default 127.0.0.1 and the wire port)")
@click.option("--type", "types", multiple=True, help="only values of this type (repeatable)")
@click.option("--index", "indices", multiple=True, type=int, help="only this index")
@click.option("--verbose", "-v", is_flag=True, help="say on stderr how the answer came")
@click.argument("handle")
def resolve(
    transport: str,
    server: str | None,
    types: tuple[str, ...],
    indices: tuple[int, ...],
    verbose: bool,
    handle: str,
) -> None:
    from core.settings import get_settings
    from resolver.wire.client import format_record, resolve_routed_sync

    server = server or f"127.0.0.1:{get_settings().wire_port}"
    host, _, port_text = server.rpartition(":")
    if not host or not port_text.isdigit():
        click.echo("error: --server must be HOST:PORT, e.g. 127.0.0.1:2641", err=True)
        sys.exit(2)
    try:
        (rc, result), via = resolve_routed_sync(
            handle, server=(host.strip("[]"), int(port_text)), transport=transport,
            types=types, indices=indices,
        )  # fmt: skip
    except (OSError, TimeoutError) as exc:
        click.echo(f"error: no answer from {server}: {exc or 'timed out'}", err=True)
        sys.exit(1)
    if verbose:
        click.echo(f"answered over {via}", err=True)
    if isinstance(result, str):
        click.echo(f"error {rc}: {result}", err=True)
        sys.exit(1)
    click.echo(format_record(handle, result))


@main.group(help="Wire-protocol credentials (HS_SECKEY / HS_PUBKEY on an admin handle).")
def credential() -> None:
    pass


@credential.command(
    "add", help="Put a secret key (from stdin) or an RSA/DSA public key on a handle."
)
@click.option("--tenant", "prefix", required=True, help="the tenant's prefix, e.g. 88.100.7")
@click.option("--handle", required=True, help="the admin handle, e.g. 88.100.7/admin")
@click.option("--index", default=300, type=int, show_default=True)
@click.option("--secret-stdin", is_flag=True, help="read the secret (one line) from stdin")
@click.option(
    "--pubkey",
    type=click.Path(exists=True, dir_okay=False),
    help="RSA or DSA public key: PEM, DER, or Handle binary (hdllib's pubkey.bin)",
)
def credential_add(
    prefix: str, handle: str, index: int, secret_stdin: bool, pubkey: str | None
) -> None:
    import base64
    from pathlib import Path

    from core.auth import Principal
    from resolver.wire.keys import decode_public_key, encode_public_key
    from tenants.accounts.services.tenants import get_by_prefix
    from tenants.identifiers.services.records import put_record

    if secret_stdin == bool(pubkey):
        click.echo("error: give exactly one of --secret-stdin or --pubkey FILE", err=True)
        sys.exit(2)
    if pubkey:
        try:
            key = decode_public_key(Path(pubkey).read_bytes())
        except ValueError as exc:
            click.echo(f"error: {pubkey}: {exc}", err=True)
            sys.exit(2)
        blob = base64.b64encode(encode_public_key(key)).decode("ascii")
        value: dict[str, Any] = {"index": index, "type": "HS_PUBKEY",
                                 "data": {"format": "key", "value": blob}}  # fmt: skip
    else:
        secret = sys.stdin.readline().rstrip("\n")
        if not secret:
            click.echo("error: the secret is empty", err=True)
            sys.exit(2)
        value = {"index": index, "type": "HS_SECKEY", "data": secret}

    async def run() -> Any:
        tenant = await get_by_prefix(prefix)
        principal = Principal(
            actor="cli", tenant_id=tenant.id, tenant_prefix=tenant.prefix,
            scopes=frozenset({"read", "write"}),
        )  # fmt: skip
        return await put_record(principal, handle, [value], indices=[index])

    result = run_async(run)
    click.echo(f"{value['type']} at {index}:{result.handle}")


@main.command(help="Apply pending database migrations.")
def migrate() -> None:
    run_async(lambda: asyncio.sleep(0))
    click.echo("migrations applied", err=True)


@main.command(help="Run the Dramatiq worker (single-node profile).")
@click.option("--processes", default=1, type=int)
@click.option("--threads", default=4, type=int)
def worker(processes: int, threads: int) -> None:
    from core.settings import get_settings
    from core.tasks import run_worker
    from portal.jobs import WORKER_MODULES

    if not get_settings().broker_url:
        click.echo(
            "IDNEST_BROKER_URL is not set: in the embedded profile, background jobs run "
            "inside `idnest serve`; no separate worker is needed.",
            err=True,
        )
        sys.exit(2)
    run_async(lambda: asyncio.sleep(0))
    run_worker(WORKER_MODULES, processes=processes, threads=threads)


@main.command(help="Show the periodic jobs: when each is due and how its last run went.")
def schedule() -> None:
    import portal.jobs  # noqa: F401 - registers every periodic job
    from core.scheduler import status

    for row in run_async(status):
        click.echo("\t".join(str(row[k]) for k in row))
