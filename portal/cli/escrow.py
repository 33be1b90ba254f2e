"""``idnest escrow``: write an escrow set, upload the pending ones, restore a node."""

from __future__ import annotations

from pathlib import Path

import click

from core.settings import get_settings
from portal.cli import main, run_async


@main.group(help="Escrow (数据托管): sealed FULL/DIFF sets of the node's core data.")
def escrow() -> None:
    pass


@escrow.command(
    "run", help="Write the next set (a DIFF since the last, or --full); prints its path."
)
@click.option("--full", is_flag=True, help="A FULL set instead of a DIFF.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory of the sets (default IDNEST_ESCROW_DIR or var/escrow).")  # fmt: skip
def escrow_run(full: bool, out: Path | None) -> None:
    from tenants.escrow.services import sets

    info = run_async(lambda: sets.run(get_settings(), full=full, out=out))
    click.echo(f"{info.kind} set {info.name}: {info.rows} rows, {info.changes} changes", err=True)
    click.echo(str(info.path))


@escrow.command("upload", help="Upload every written set not yet uploaded, oldest first.")
def escrow_upload() -> None:
    from tenants.escrow.services import upload

    done = run_async(lambda: upload.upload_pending(get_settings()))
    click.echo(f"{done} set(s) uploaded")


@escrow.command("restore", help="Build this (empty) node from a FULL and its DIFFs in DIR.")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--public-key", default=None, help="Refuse sets not signed by this node key.")
def escrow_restore(directory: Path, public_key: str | None) -> None:
    from tenants.escrow.services import restore

    done = run_async(lambda: restore.restore(get_settings(), directory, public_key=public_key))
    rows = ", ".join(f"{t} {n}" for t, n in done.rows.items() if n)
    click.echo(f"restored from {len(done.sets)} set(s) ({', '.join(done.sets)}): {rows}")
