"""Scheme namespaces, private-code mappings, templates, SNMS logins, idempotency keys."""

from __future__ import annotations

import getpass
import sys
from typing import Any

import click

from portal.cli import main, run_async


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

    _print_ns(run_async(add))


@namespace.command("verify", help="Verify a claimed namespace after review.")
@click.option("--scheme", required=True, type=_SCHEME)
@click.option("--value", required=True)
@click.option("--note", default="")
def namespace_verify(scheme: str, value: str, note: str) -> None:
    from tenants.schemes.services.namespaces import review_namespace

    _print_ns(
        run_async(lambda: review_namespace(scheme, value, verified=True, actor="cli", note=note))
    )


@namespace.command("reject", help="Reject (or revoke) a namespace; its codes stop resolving.")
@click.option("--scheme", required=True, type=_SCHEME)
@click.option("--value", required=True)
@click.option("--reason", required=True)
def namespace_reject(scheme: str, value: str, reason: str) -> None:
    from tenants.schemes.services.namespaces import review_namespace

    _print_ns(
        run_async(lambda: review_namespace(scheme, value, verified=False, actor="cli", note=reason))
    )


@namespace.command("list", help="List namespaces (the review queue with --status pending).")
@click.option("--tenant", "prefix", default=None)
@click.option("--scheme", default=None, type=_SCHEME)
@click.option("--status", default=None, type=click.Choice(["pending", "verified", "rejected"]))
def namespace_list(prefix: str | None, scheme: str | None, status: str | None) -> None:
    from tenants.accounts.services.tenants import get_by_prefix
    from tenants.schemes.services.namespaces import list_namespaces

    async def rows() -> list[Any]:
        tenant_id = (await get_by_prefix(prefix)).id if prefix else None
        return await list_namespaces(tenant_id, scheme=scheme, status=status)

    for n in run_async(rows):
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
    from tenants.accounts.services.tenants import get_by_prefix
    from tenants.schemes.services.mappings import put_mappings

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

    results = run_async(run)
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
    from tenants.identifiers.services.snms import create_account

    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    run_async(lambda: create_account(prefix, username, password, role=role, actor="cli"))
    click.echo(f"SNMS user {username} created for {prefix}", err=True)


@main.group(help="Metadata templates (标识模板) of the node.")
def template() -> None:
    pass


@template.command("seed", help="Create the node templates of a seed file that are missing.")
@click.option("--file", "path", default=None, help="JSON seed file (default: the built-in one)")
def template_seed(path: str | None) -> None:
    from pathlib import Path

    from tenants.templates.services.templates import SEED_FILE, seed

    created = run_async(lambda: seed(Path(path) if path else SEED_FILE, actor="cli"))
    click.echo(f"{created} templates created", err=True)


@template.command("put", help="Write the next version of a node template from a JSON file.")
@click.argument("path")
def template_put(path: str) -> None:
    import json
    from pathlib import Path

    from tenants.templates.services.templates import save_template

    body = json.loads(Path(path).read_text("utf-8"))
    saved = run_async(
        lambda: save_template(owner_tenant=None, code=body["code"], body=body, actor="cli")
    )
    click.echo(saved.ref)


@template.command("sync", help="Pull the node templates from the top-level node.")
@click.option("--url", default=None, help="the top-level node's base URL (IDNEST_UPSTREAM_URL)")
def template_sync(url: str | None) -> None:
    from tenants.templates.services.sync import sync

    report = run_async(lambda: sync(url=url))
    for outcome in report.outcomes:
        click.echo(outcome.line())
    click.echo(f"{report.url}: {report.summary()}", err=True)
    if report.refused:
        sys.exit(1)


@main.command("idempotency-purge", help="Forget Idempotency-Keys older than the window.")
@click.option("--hours", default=None, type=float, help="default IDNEST_IDEMPOTENCY_TTL_HOURS (72)")
def idempotency_purge(hours: float | None) -> None:
    from core.settings import get_settings
    from tenants.identifiers.services.idempotency import purge

    hours = hours if hours is not None else get_settings().idempotency_ttl_hours
    click.echo(f"{run_async(lambda: purge(hours))} keys purged", err=True)


@main.group(help="Checks over the stored data that staff run and review.")
def check() -> None:
    pass


@check.command("names", help="List handles whose suffix has a '.' or '..' path segment "
               "(a browser would show them as another handle); exit 1 if any.")  # fmt: skip
def check_names() -> None:
    from tenants.identifiers.services.names import misleading_names

    found = run_async(misleading_names)
    for n in found:
        click.echo(f"{n.handle}\ttenant {n.tenant_id}\tsegment {n.segment!r}")
    click.echo(f"{len(found)} handle(s) with a dot segment in the suffix", err=True)
    sys.exit(1 if found else 0)
