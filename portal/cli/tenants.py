"""Tenants, API keys, staff users and the demo."""

from __future__ import annotations

import getpass
import sys
from typing import Any

import click

from portal.cli import main, run_async


@main.group(help="Enterprise nodes (tenants).")
def tenant() -> None:
    pass


def _server_options(fn: Any) -> Any:
    """The options that describe a self-deployed tenant's servers (docs/enterprise.md)."""
    fn = click.option(
        "--public-key",
        "public_key",
        type=click.File("rb"),
        default=None,
        help="the servers' public key (PEM or DER, RSA or DSA) for HS_SITE",
    )(fn)
    fn = click.option(
        "--http-port",
        type=int,
        default=0,
        help="the port of the Handle protocol over HTTP (with --protocols http)",
    )(fn)
    fn = click.option(
        "--protocols",
        default="udp,tcp",
        show_default=True,
        help="what the servers speak: udp, tcp, http",
    )(fn)
    return click.option("--servers", default=None, metavar="HOST:PORT[,HOST:PORT…]",
                        help="self-deployed: the enterprise's own Handle servers")(fn)  # fmt: skip


def _parse_servers(servers: str, protocols: str, http_port: int, public_key: Any) -> Any:
    from core.errors import IdnestError
    from tenants.enterprise.services.servers import encode_key, parse_servers

    try:
        key = encode_key(public_key.read()) if public_key is not None else ""
        return parse_servers(servers, protocols=protocols, http_port=http_port, public_key=key)
    except IdnestError as exc:
        click.echo(f"error: {exc.detail}", err=True)
        sys.exit(2)


@tenant.command("create", help="Create an active tenant; prints its prefix.")
@click.option("--name", required=True)
@click.option("--code", default=None, help="enterprise code (default: the next free number)")
@_server_options
def tenant_create(
    name: str, code: str | None, servers: str | None, protocols: str, http_port: int,
    public_key: Any,
) -> None:  # fmt: skip
    from tenants.accounts.services.tenants import create_tenant
    from tenants.enterprise.services.servers import set_servers

    # Parsed before the tenant exists: a typo in a server must not leave a tenant behind.
    parsed = _parse_servers(servers, protocols, http_port, public_key) if servers else None

    async def create() -> Any:
        info = await create_tenant(name, code=code, actor="cli")
        if parsed:
            await set_servers(info.prefix, parsed, actor="cli")
        return info

    click.echo(run_async(create).prefix)


@tenant.command(
    "servers",
    help="Show a tenant's own Handle servers; with --servers make it self-deployed with "
    "them, with --delegated make it delegated (hosted here) again. The prefix stays.",
)
@click.argument("prefix")
@_server_options
@click.option("--delegated", is_flag=True, help="the node hosts the tenant's identifiers")
def tenant_servers(
    prefix: str, servers: str | None, protocols: str, http_port: int, public_key: Any,
    delegated: bool,
) -> None:  # fmt: skip
    from core.settings import get_settings
    from core.tenant_watch import settle
    from tenants.accounts.services.tenants import get_by_prefix
    from tenants.enterprise.services.servers import servers_of, set_delegated, set_servers

    if servers and delegated:
        raise click.UsageError("--servers and --delegated exclude each other")
    if servers:
        parsed = _parse_servers(servers, protocols, http_port, public_key)
        run_async(lambda: set_servers(prefix, parsed, actor="cli"))
        settle(get_settings())
    elif delegated:
        run_async(lambda: set_delegated(prefix, actor="cli"))
        settle(get_settings())

    async def show() -> list[Any]:
        return await servers_of((await get_by_prefix(prefix)).id)

    found = run_async(show)
    if not found:
        click.echo(f"{prefix}\tdelegated")
    for s in found:
        key = "key" if s.public_key else "no key"
        click.echo(f"{prefix}\tself-deployed\t{s.endpoint}\t{','.join(s.protocols)}\t{key}")


@tenant.command("list", help="List tenants.")
def tenant_list() -> None:
    from tenants.accounts.services.tenants import list_tenants

    for t in run_async(list_tenants):
        click.echo(f"{t.prefix}\t{t.status}\t{t.name}")


@tenant.command("set-status", help="Suspend, resume (active) or close a tenant.")
@click.argument("prefix")
@click.argument("status", type=click.Choice(["active", "suspended", "closed"]))
@click.option("--reason", required=True)
def tenant_set_status(prefix: str, status: str, reason: str) -> None:
    from core.settings import get_settings
    from core.tenant_watch import settle
    from tenants.accounts.services.tenants import set_status

    info = run_async(lambda: set_status(prefix, status, actor="cli", reason=reason))
    settle(get_settings())
    click.echo(f"{info.prefix}\t{info.status}")


@main.group(help="API keys.")
def apikey() -> None:
    pass


@apikey.command("create", help="Create an API key; prints it once.")
@click.option("--tenant", "prefix", required=True, help="the tenant's prefix, e.g. 88.100.7")
@click.option("--scopes", default="read,write", show_default=True)
@click.option("--name", default="")
def apikey_create(prefix: str, scopes: str, name: str) -> None:
    from tenants.accounts.services.apikeys import create_key

    plaintext, _ = run_async(lambda: create_key(prefix, scopes=scopes, name=name, actor="cli"))
    click.echo(plaintext)


@apikey.command("list", help="List a tenant's keys (never the secrets).")
@click.option("--tenant", "prefix", required=True)
def apikey_list(prefix: str) -> None:
    from tenants.accounts.services.apikeys import list_keys
    from tenants.accounts.services.tenants import get_by_prefix

    async def keys() -> list[Any]:
        return await list_keys((await get_by_prefix(prefix)).id)

    for k in run_async(keys):
        state = "revoked" if k.revoked_at else "active"
        used = k.last_used_at.isoformat() if k.last_used_at else "never"
        click.echo(f"{k.key_id}\t{k.scopes}\t{state}\tlast used {used}\t{k.name}")


@apikey.command("revoke", help="Revoke a key by its id.")
@click.option("--tenant", "prefix", required=True)
@click.argument("key_id")
def apikey_revoke(prefix: str, key_id: str) -> None:
    from tenants.accounts.services.apikeys import revoke_key
    from tenants.accounts.services.tenants import get_by_prefix

    async def revoke() -> None:
        await revoke_key((await get_by_prefix(prefix)).id, key_id, actor="cli")

    run_async(revoke)
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
    from tenants.accounts.services.users import create_staff

    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            click.echo("error: the passwords differ", err=True)
            sys.exit(2)
    else:
        password = sys.stdin.readline().rstrip("\n")
    user = run_async(lambda: create_staff(email, password, roles=list(roles)))
    click.echo(f"staff user {user.email} created", err=True)


@main.command(
    help="Seed a demo tenant with a few identifiers and a console user; print a key, curl "
    "commands and the console login."
)
@click.option("--base-url", default=None, help="where the node answers (for the curl lines)")
def demo(base_url: str | None) -> None:
    from core.settings import get_settings
    from portal.demo import seed_demo

    settings = get_settings()
    base = base_url or settings.public_base_url or f"http://127.0.0.1:{settings.port}"
    result = run_async(seed_demo)
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
    click.echo(f"# the tenant console: open {base}/login and log in as")
    click.echo(f"#   email    {result.email}")
    click.echo(f"#   password {result.password}")
