"""The ``idnest`` command.

Commands print their answer (a prefix, a key) alone on stdout, so scripts can capture
it; progress and logs go to stderr. Every command that touches the database applies
pending migrations first, so a fresh checkout works with any command first.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from core.errors import IdnestError
from core.logging import configure_logging

T = TypeVar("T")


def _run(make: Callable[[], Awaitable[T]], *, migrate: bool = True) -> T:
    """Run one async database operation with the engine started and the schema current."""

    async def main() -> T:
        from core import db
        from core.bus import get_bus
        from core.migrate import migrate as apply

        await db.start()
        bus = get_bus()
        try:
            if migrate:
                await apply()
            return await make()
        finally:
            await bus.stop()
            await db.stop()

    try:
        return asyncio.run(main())
    except IdnestError as exc:
        click.echo(f"error: {exc.detail}", err=True)
        sys.exit(2)


@click.group(help="idnest: a secondary node of the industrial internet identifier system.")
@click.option("--log-level", default=None, help="DEBUG, INFO, WARNING (default from settings)")
def main(log_level: str | None) -> None:
    configure_logging(log_level)


@main.command(help="Apply pending migrations and serve the whole app with Hypercorn.")
@click.option("--host", default=None, help="bind address (default :: — IPv4 and IPv6)")
@click.option("--port", default=None, type=int, help="HTTP port (default 8000)")
@click.option("--workers", default=None, type=int, help="Hypercorn worker processes")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    from core.settings import get_settings
    from portal.server import run_server

    settings = get_settings()
    _run(lambda: asyncio.sleep(0))  # migrations, before any worker starts
    run_server(
        settings,
        host=host if host is not None else settings.host,
        port=port if port is not None else settings.port,
        workers=workers if workers is not None else settings.workers,
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
    _run(lambda: asyncio.sleep(0))  # migrations, before any process starts
    if processes <= 1:
        run_resolver_process(settings)
        return
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
@click.argument("handle")
def resolve(
    transport: str,
    server: str | None,
    types: tuple[str, ...],
    indices: tuple[int, ...],
    handle: str,
) -> None:
    from core.settings import get_settings
    from resolver.wire.client import format_record, resolve_sync

    server = server or f"127.0.0.1:{get_settings().wire_port}"
    host, _, port_text = server.rpartition(":")
    if not host or not port_text.isdigit():
        click.echo("error: --server must be HOST:PORT, e.g. 127.0.0.1:2641", err=True)
        sys.exit(2)
    try:
        rc, result = resolve_sync(
            handle, server=(host.strip("[]"), int(port_text)), transport=transport,
            types=types, indices=indices,
        )  # fmt: skip
    except (OSError, TimeoutError) as exc:
        click.echo(f"error: no answer from {server}: {exc or 'timed out'}", err=True)
        sys.exit(1)
    if isinstance(result, str):
        click.echo(f"error {rc}: {result}", err=True)
        sys.exit(1)
    click.echo(format_record(handle, result))


@main.group(help="Wire-protocol credentials (HS_SECKEY / HS_PUBKEY on an admin handle).")
def credential() -> None:
    pass


@credential.command("add", help="Put a secret key (from stdin) or an RSA public key on a handle.")
@click.option("--tenant", "prefix", required=True, help="the tenant's prefix, e.g. 88.100.7")
@click.option("--handle", required=True, help="the admin handle, e.g. 88.100.7/admin")
@click.option("--index", default=300, type=int, show_default=True)
@click.option("--secret-stdin", is_flag=True, help="read the secret (one line) from stdin")
@click.option("--pubkey", type=click.Path(exists=True, dir_okay=False), help="PEM public key")
def credential_add(
    prefix: str, handle: str, index: int, secret_stdin: bool, pubkey: str | None
) -> None:
    import base64
    from pathlib import Path

    from core.auth import Principal
    from resolver.wire.keys import decode_public_key, encode_public_key
    from tenants.services.identifiers import put_record
    from tenants.services.tenants import get_by_prefix

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

    result = _run(run)
    click.echo(f"{value['type']} at {index}:{result.handle}")


@main.command(help="Apply pending database migrations.")
def migrate() -> None:
    _run(lambda: asyncio.sleep(0))
    click.echo("migrations applied", err=True)


@main.command(help="Run the Dramatiq worker (single-node profile).")
@click.option("--processes", default=1, type=int)
@click.option("--threads", default=4, type=int)
def worker(processes: int, threads: int) -> None:
    from core.settings import get_settings
    from core.tasks import run_worker

    if not get_settings().broker_url:
        click.echo(
            "IDNEST_BROKER_URL is not set: in the embedded profile, background jobs run "
            "inside `idnest serve`; no separate worker is needed.",
            err=True,
        )
        sys.exit(2)
    _run(lambda: asyncio.sleep(0))
    sys.exit(run_worker(processes=processes, threads=threads))


@main.group(help="Enterprise nodes (tenants).")
def tenant() -> None:
    pass


@tenant.command("create", help="Create an active tenant; prints its prefix.")
@click.option("--name", required=True)
@click.option("--code", default=None, help="enterprise code (default: the next free number)")
def tenant_create(name: str, code: str | None) -> None:
    from tenants.services.tenants import create_tenant

    info = _run(lambda: create_tenant(name, code=code, actor="cli"))
    click.echo(info.prefix)


@tenant.command("list", help="List tenants.")
def tenant_list() -> None:
    from tenants.services.tenants import list_tenants

    for t in _run(list_tenants):
        click.echo(f"{t.prefix}\t{t.status}\t{t.name}")


@tenant.command("set-status", help="Suspend, resume (active) or close a tenant.")
@click.argument("prefix")
@click.argument("status", type=click.Choice(["active", "suspended", "closed"]))
@click.option("--reason", required=True)
def tenant_set_status(prefix: str, status: str, reason: str) -> None:
    from tenants.services.tenants import set_status

    info = _run(lambda: set_status(prefix, status, actor="cli", reason=reason))
    click.echo(f"{info.prefix}\t{info.status}")


@main.group(help="API keys.")
def apikey() -> None:
    pass


@apikey.command("create", help="Create an API key; prints it once.")
@click.option("--tenant", "prefix", required=True, help="the tenant's prefix, e.g. 88.100.7")
@click.option("--scopes", default="read,write", show_default=True)
@click.option("--name", default="")
def apikey_create(prefix: str, scopes: str, name: str) -> None:
    from tenants.services.apikeys import create_key

    plaintext, _ = _run(lambda: create_key(prefix, scopes=scopes, name=name, actor="cli"))
    click.echo(plaintext)


@apikey.command("list", help="List a tenant's keys (never the secrets).")
@click.option("--tenant", "prefix", required=True)
def apikey_list(prefix: str) -> None:
    from tenants.services.apikeys import list_keys
    from tenants.services.tenants import get_by_prefix

    async def keys() -> list[Any]:
        return await list_keys((await get_by_prefix(prefix)).id)

    for k in _run(keys):
        state = "revoked" if k.revoked_at else "active"
        used = k.last_used_at.isoformat() if k.last_used_at else "never"
        click.echo(f"{k.key_id}\t{k.scopes}\t{state}\tlast used {used}\t{k.name}")


@apikey.command("revoke", help="Revoke a key by its id.")
@click.option("--tenant", "prefix", required=True)
@click.argument("key_id")
def apikey_revoke(prefix: str, key_id: str) -> None:
    from tenants.services.apikeys import revoke_key
    from tenants.services.tenants import get_by_prefix

    async def revoke() -> None:
        await revoke_key((await get_by_prefix(prefix)).id, key_id, actor="cli")

    _run(revoke)
    click.echo(f"revoked {key_id}", err=True)


@main.group(help="Node staff.")
def staff() -> None:
    pass


@staff.command("create", help="Create a staff user; the password is prompted or read from stdin.")
@click.option("--email", required=True)
@click.option(
    "--role",
    "roles",
    multiple=True,
    default=["admin"],
    show_default=True,
    type=click.Choice(["admin", "reviewer", "operator", "finance"]),
)
def staff_create(email: str, roles: tuple[str, ...]) -> None:
    from tenants.services.users import create_staff

    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            click.echo("error: the passwords differ", err=True)
            sys.exit(2)
    else:
        password = sys.stdin.readline().rstrip("\n")
    user = _run(lambda: create_staff(email, password, roles=list(roles)))
    click.echo(f"staff user {user.email} created", err=True)


@main.group(help="Scheme namespaces: GS1 company prefixes, OID arcs, Ecode/VAA issuer codes.")
def namespace() -> None:
    pass


_SCHEME = click.Choice(["gs1", "oid", "ecode", "vaa"])


def _print_ns(n: Any) -> None:
    click.echo(f"{n.tenant_prefix}\t{n.scheme}\t{n.value}\t{n.status}")


@namespace.command("add", help="Claim a namespace for a tenant (pending; --verify to verify).")
@click.option("--tenant", "prefix", required=True, help="the tenant's prefix, e.g. 88.100.7")
@click.option("--scheme", required=True, type=_SCHEME)
@click.option("--value", default=None, help="the prefix or issuer code (oid: omit to allocate)")
@click.option("--verify", is_flag=True, help="verify it at once (staff checked it already)")
def namespace_add(prefix: str, scheme: str, value: str | None, verify: bool) -> None:
    from tenants.schemes.services.namespaces import add_for_tenant, review_namespace

    async def add() -> Any:
        info = await add_for_tenant(prefix, scheme, value, actor="cli")
        if verify and info.status != "verified":
            info = await review_namespace(scheme, info.value, verified=True, actor="cli")
        return info

    _print_ns(_run(add))


@namespace.command("verify", help="Verify a claimed namespace after review.")
@click.option("--scheme", required=True, type=_SCHEME)
@click.option("--value", required=True)
@click.option("--note", default="")
def namespace_verify(scheme: str, value: str, note: str) -> None:
    from tenants.schemes.services.namespaces import review_namespace

    _print_ns(_run(lambda: review_namespace(scheme, value, verified=True, actor="cli", note=note)))


@namespace.command("reject", help="Reject (or revoke) a namespace; its codes stop resolving.")
@click.option("--scheme", required=True, type=_SCHEME)
@click.option("--value", required=True)
@click.option("--reason", required=True)
def namespace_reject(scheme: str, value: str, reason: str) -> None:
    from tenants.schemes.services.namespaces import review_namespace

    _print_ns(
        _run(lambda: review_namespace(scheme, value, verified=False, actor="cli", note=reason))
    )


@namespace.command("list", help="List namespaces (the review queue with --status pending).")
@click.option("--tenant", "prefix", default=None)
@click.option("--scheme", default=None, type=_SCHEME)
@click.option("--status", default=None, type=click.Choice(["pending", "verified", "rejected"]))
def namespace_list(prefix: str | None, scheme: str | None, status: str | None) -> None:
    from tenants.schemes.services.namespaces import list_namespaces
    from tenants.services.tenants import get_by_prefix

    async def rows() -> list[Any]:
        tenant_id = (await get_by_prefix(prefix)).id if prefix else None
        return await list_namespaces(tenant_id, scheme=scheme, status=status)

    for n in _run(rows):
        _print_ns(n)


@main.group(help="Private-code (内部编码) mappings.")
def mapping() -> None:
    pass


@mapping.command("import", help="Import private_code,public rows from a CSV file ('-': stdin).")
@click.option("--tenant", "prefix", required=True)
@click.argument("source", type=click.File("r", encoding="utf-8-sig"))
def mapping_import(prefix: str, source: Any) -> None:
    import csv

    from core.auth import Principal
    from tenants.schemes.services.mappings import put_mappings
    from tenants.services.tenants import get_by_prefix

    rows = [r for r in csv.reader(source) if r and any(c.strip() for c in r)]
    if rows and [c.strip().lower() for c in rows[0][:2]] == ["private_code", "public"]:
        rows = rows[1:]
    items = [{"private_code": r[0], "public": r[1] if len(r) > 1 else ""} for r in rows]

    async def run() -> list[Any]:
        tenant = await get_by_prefix(prefix)
        principal = Principal(
            actor="cli", tenant_id=tenant.id, tenant_prefix=tenant.prefix,
            scopes=frozenset({"read", "write"}),
        )  # fmt: skip
        return await put_mappings(principal, items)

    results = _run(run)
    failed = 0
    for r in results:
        if r.error is not None:
            failed += 1
            click.echo(f"row {r.index + 1}: {r.error.detail}", err=True)
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    click.echo(" ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    if failed:
        sys.exit(1)


@main.command(help="Seed a demo tenant with a few identifiers; print a key and curl commands.")
@click.option("--base-url", default=None, help="where the node answers (for the curl lines)")
def demo(base_url: str | None) -> None:
    from core.settings import get_settings
    from portal.demo import seed_demo

    settings = get_settings()
    base = base_url or settings.public_base_url or f"http://127.0.0.1:{settings.port}"
    result = _run(seed_demo)
    click.echo(f"# demo tenant {result.prefix}: {len(result.handles)} identifiers")
    click.echo(f"export IDNEST_KEY={result.key}")
    click.echo(f"curl -s {base}/api/handles/{result.handles[0]}")
    click.echo(f"curl -si {base}/{result.handles[0]}")
    click.echo(
        f'curl -s -X PUT -H "Authorization: Bearer $IDNEST_KEY" '
        f"-H 'Content-Type: application/json' {base}/api/handles/{result.prefix}/MY-FIRST "
        '-d \'{"values":[{"index":1,"type":"URL","data":"https://example.com"}]}\''
    )
    click.echo(
        f'curl -s -H "Authorization: Bearer $IDNEST_KEY" '
        f"'{base}/api/handles?prefix={result.prefix}&page=0&pageSize=10'"
    )


@main.group("snms-user", help="Logins for SNMS-compatible clients (/identity/token).")
def snms_user() -> None:
    pass


@snms_user.command("create", help="Create an SNMS login for a tenant; password from stdin.")
@click.option("--tenant", "prefix", required=True, help="the tenant's prefix, e.g. 88.100.7")
@click.option("--username", required=True)
@click.option(
    "--role",
    default="developer",
    show_default=True,
    type=click.Choice(["admin", "developer", "viewer"]),
)
def snms_user_create(prefix: str, username: str, role: str) -> None:
    from tenants.registry.snms import create_account

    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    _run(lambda: create_account(prefix, username, password, role=role, actor="cli"))
    click.echo(f"SNMS user {username} created for {prefix}", err=True)


@main.group(help="Metadata templates (标识模板) of the node.")
def template() -> None:
    pass


@template.command("seed", help="Create the node templates of a seed file that are missing.")
@click.option("--file", "path", default=None, help="JSON seed file (default: the built-in one)")
def template_seed(path: str | None) -> None:
    from pathlib import Path

    from tenants.registry.templates import SEED_FILE, seed

    created = _run(lambda: seed(Path(path) if path else SEED_FILE, actor="cli"))
    click.echo(f"{created} templates created", err=True)


@template.command("put", help="Write the next version of a node template from a JSON file.")
@click.argument("path")
def template_put(path: str) -> None:
    import json
    from pathlib import Path

    from tenants.registry.templates import save_template

    body = json.loads(Path(path).read_text("utf-8"))
    saved = _run(
        lambda: save_template(owner_tenant=None, code=body["code"], body=body, actor="cli")
    )
    click.echo(saved.ref)


@main.command("idempotency-purge", help="Forget Idempotency-Keys older than the window.")
@click.option("--hours", default=72.0, show_default=True, type=float)
def idempotency_purge(hours: float) -> None:
    from tenants.registry.idempotency import purge

    click.echo(f"{_run(lambda: purge(hours))} keys purged", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()
