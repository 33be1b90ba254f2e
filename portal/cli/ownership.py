"""A tenant's data ownership: export, archive verification, import, erasure."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from portal.cli import main, run_async
from portal.cli.tenants import tenant


@main.command("export", help="Write a tenant's whole archive (signed tar of NDJSON) to a file.")
@click.option("--tenant", "prefix", required=True, help="the tenant's prefix, e.g. 88.100.7")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def export_cmd(prefix: str, out: Path) -> None:
    from tenants.accounts.services.tenants import get_by_prefix
    from tenants.ownership.services.export import export_tenant

    dest = out.absolute()

    async def progress(done: int) -> None:
        click.echo(f"exported {done} rows", err=True)

    async def run() -> dict:
        info = await get_by_prefix(prefix)
        return await export_tenant(info.id, dest, progress=progress)

    manifest = run_async(run)
    rows = sum(f["rows"] for f in manifest.get("files", []))
    click.echo(f"exported {manifest['tenant']}: {rows} rows to {out}", err=True)
    click.echo(str(out))


@main.group(help="Export archives.")
def archive() -> None:
    pass


@archive.command("verify", help="Check an archive's signature and every file's hash.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--trust-key", "keys", multiple=True, help="also accept this signing key (base64)")
def archive_verify(path: Path, keys: tuple[str, ...]) -> None:
    from tenants.ownership.services.archive import ArchiveInvalid, verify

    try:
        verified = verify(path, trusted_keys=keys)
    except ArchiveInvalid as exc:
        click.echo(f"INVALID: {exc.detail}", err=True)
        sys.exit(1)
    m = verified.manifest
    signer = "this node" if verified.own_key else f"key {m['signing_key']}"
    click.echo(f"ok: {m['tenant']}, {len(m['files'])} files, signed by {signer}")


@archive.command("key", help="Print this node's public archive-signing key.")
def archive_key() -> None:
    from core.crypto import public_signing_key

    click.echo(public_signing_key())


@main.command("import", help="Load a tenant's archive into this node (its prefix must be free).")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--trust-key", "keys", multiple=True, help="accept only these signing keys")
def import_cmd(path: Path, keys: tuple[str, ...]) -> None:
    from tenants.ownership.services.importer import import_archive

    async def progress(table: str, done: int) -> None:
        click.echo(f"loaded {done} rows of {table}", err=True)

    result = run_async(
        lambda: import_archive(path, actor="cli", trusted_keys=keys, progress=progress)
    )
    rows = sum(result["rows"].values())
    click.echo(f"imported {result['tenant']}: {rows} rows")


@tenant.command("erase", help="Erase a tenant's data now (staff), audited.")
@click.argument("prefix")
@click.option("--reason", required=True)
@click.option("--yes", is_flag=True, help="confirm: this cannot be undone")
def tenant_erase(prefix: str, reason: str, yes: bool) -> None:
    from core.settings import get_settings
    from core.tenant_watch import settle
    from tenants.ownership.services.erasure import erase_tenant

    if not yes:
        click.echo("error: erasure cannot be undone; add --yes", err=True)
        sys.exit(2)
    deleted = run_async(lambda: erase_tenant(prefix, actor="cli", reason=reason))
    settle(get_settings())
    click.echo(f"erased {prefix}: {sum(deleted.values())} rows", err=True)


@tenant.command("verify-erased", help="Prove no erasable row of the tenant remains.")
@click.argument("prefix")
def tenant_verify_erased(prefix: str) -> None:
    from tenants.ownership.services.erasure import verify_erased

    check = run_async(lambda: verify_erased(prefix))
    for table, n in sorted(check.remaining.items()):
        click.echo(f"{table}\t{n}\t{'ok' if n == 0 else 'REMAINS'}")
    for table, n in sorted(check.retained.items()):
        click.echo(f"{table}\t{n}\tretained by law")
    if not check.erased:
        click.echo(f"{check.prefix} is not marked erased", err=True)
    click.echo(f"{check.prefix}: {'erased' if check.ok else 'NOT ERASED'}")
    sys.exit(0 if check.ok else 1)


@tenant.command("release", help="Let an erased tenant's prefix be allocated again (staff).")
@click.argument("prefix")
@click.option("--reason", required=True)
def tenant_release(prefix: str, reason: str) -> None:
    from tenants.ownership.services.erasure import release_prefix

    run_async(lambda: release_prefix(prefix, actor="cli", reason=reason))
    click.echo(f"released {prefix}", err=True)
