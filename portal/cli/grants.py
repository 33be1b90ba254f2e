"""Cross-enterprise grants: create (prints the grant id last), revoke, list."""

from __future__ import annotations

from typing import Any

import click

from portal.cli import main, run_async


@main.group(help="Cross-enterprise grants: let a partner tenant read chosen restricted values.")
def grant() -> None:
    pass


@grant.command("create", help="Grant a partner read access; prints the grant id last.")
@click.option("--tenant", "prefix", required=True, help="the owner's prefix (who grants)")
@click.option("--to", "partner", required=True, help="the partner tenant's prefix")
@click.option("--pattern", default=None, help="glob on the identifier suffix, e.g. 'P-*'")
@click.option("--template", default=None, help="template code or code@version")
@click.option("--type", "vtype", default=None, help="a value type, e.g. BATCH.COST")
@click.option("--client", default="", help="only this OAuth2 client of the partner")
def grant_create(
    prefix: str,
    partner: str,
    pattern: str | None,
    template: str | None,
    vtype: str | None,
    client: str,
) -> None:
    from tenants.accounts.services.tenants import get_by_prefix
    from tenants.grants.services.grants import create_grant

    chosen = [(k, v) for k, v in (("pattern", pattern), ("template", template),
                                  ("type", vtype)) if v is not None]  # fmt: skip
    if len(chosen) != 1:
        raise click.UsageError("give exactly one of --pattern, --template, --type")
    kind, selector = chosen[0]

    async def make() -> Any:
        owner = await get_by_prefix(prefix)
        return await create_grant(owner, partner, kind=kind, selector=selector,
                                  client_id=client, actor="cli")  # fmt: skip

    info = run_async(make)
    who = (
        f"{info.partner_prefix} client {info.client_id}" if info.client_id else info.partner_prefix
    )
    click.echo(f"granted {who} the values of {info.kind} {info.selector}", err=True)
    click.echo(info.grant_id)


@grant.command("revoke", help="Revoke a grant by its id; it stops on the next request.")
@click.option("--tenant", "prefix", required=True, help="the owner's prefix")
@click.argument("grant_id")
def grant_revoke(prefix: str, grant_id: str) -> None:
    from tenants.accounts.services.tenants import get_by_prefix
    from tenants.grants.services.grants import revoke_grant

    async def make() -> Any:
        return await revoke_grant((await get_by_prefix(prefix)).id, grant_id, actor="cli")

    info = run_async(make)
    click.echo(f"{info.grant_id}\trevoked")


@grant.command("list", help="List the grants a tenant gave and received.")
@click.option("--tenant", "prefix", required=True)
def grant_list(prefix: str) -> None:
    from tenants.accounts.services.tenants import get_by_prefix
    from tenants.grants.services.grants import list_given, list_received

    async def make() -> Any:
        tenant = await get_by_prefix(prefix)
        return await list_given(tenant.id), await list_received(tenant.id)

    given, received = run_async(make)
    for direction, rows in (("given", given), ("received", received)):
        for g in rows:
            state = "revoked" if g.revoked_at else "live"
            other = g.partner_prefix if direction == "given" else g.owner_prefix
            client = g.client_id or "*"
            click.echo(f"{direction}\t{g.grant_id}\t{other}\t{client}\t{g.kind}\t{g.selector}"
                       f"\t{state}\t{g.created_at.isoformat()}")  # fmt: skip
