"""OAuth2 machine clients and the node's token signing keys."""

from __future__ import annotations

import json
from typing import Any

import click

from portal.cli import main, run_async


@main.group(help="A tenant's OAuth2 machine clients (client credentials).")
def client() -> None:
    pass


@client.command(
    "create", help='Create a client; prints {"client_id", "client_secret"} (the secret once).'
)
@click.option("--tenant", "prefix", required=True, help="the tenant's prefix, e.g. 88.100.7")
@click.option("--name", required=True)
@click.option("--scopes", default="read", show_default=True, help="read, write or read,write")
@click.option(
    "--allow-ip", "allow_ip", multiple=True, help="a CIDR the client may call from (repeatable)"
)
def client_create(prefix: str, name: str, scopes: str, allow_ip: tuple[str, ...]) -> None:
    from tenants.clients.services.clients import create_client

    secret, info = run_async(
        lambda: create_client(prefix, name=name, scopes=scopes, allowed_ips=allow_ip, actor="cli")
    )
    click.echo(json.dumps({"client_id": info.client_id, "client_secret": secret}))


@client.command("list", help="List a tenant's clients (never the secrets).")
@click.option("--tenant", "prefix", required=True)
def client_list(prefix: str) -> None:
    from tenants.accounts.services.tenants import get_by_prefix
    from tenants.clients.services.clients import list_clients

    async def found() -> list[Any]:
        return await list_clients((await get_by_prefix(prefix)).id)

    for c in run_async(found):
        state = "revoked" if c.revoked_at else "active"
        ips = c.allowed_ips or "any address"
        click.echo(f"{c.client_id}\t{c.scopes}\t{state}\t{ips}\t{c.name}")


@client.command("revoke", help="Revoke a client: its tokens stop working.")
@click.option("--tenant", "prefix", required=True)
@click.argument("client_id")
def client_revoke(prefix: str, client_id: str) -> None:
    from tenants.accounts.services.tenants import get_by_prefix
    from tenants.clients.services.clients import revoke_client

    async def revoke() -> None:
        await revoke_client((await get_by_prefix(prefix)).id, client_id, actor="cli")

    run_async(revoke)
    click.echo(f"revoked {client_id}", err=True)


@main.group(help="The node's OAuth2 authorization server.")
def oauth() -> None:
    pass


@oauth.command(
    "rotate-key", help="Sign tokens with a new key; the old one verifies until its tokens expire."
)
def oauth_rotate_key() -> None:
    from tenants.clients.services.keys import rotate

    click.echo(run_async(lambda: rotate(actor="cli", reason="rotate-key")))


@oauth.command("keys", help="The signing keys: kid, created, retired.")
def oauth_keys() -> None:
    from tenants.clients.services.keys import list_keys

    for k in run_async(list_keys):
        retired = k.retired_at.isoformat() if k.retired_at else "signing"
        click.echo(f"{k.kid}\t{k.created_at.isoformat()}\t{retired}")
