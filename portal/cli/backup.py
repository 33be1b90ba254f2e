"""Backups of the whole node's database: ``idnest backup`` and ``idnest restore``
(core.backup; docs/operations.md states what they keep, RPO and RTO)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from core.errors import IdnestError
from portal.cli import main, run_async


@main.command(help="Write a backup of the node's database to FILE (SQLite copy or pg_dump).")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup(file: Path) -> None:
    from core import backup as backups
    from core.settings import get_settings

    try:
        result = backups.backup(get_settings(), file)
    except IdnestError as exc:
        click.echo(f"error: {exc.detail}", err=True)
        sys.exit(2)
    click.echo(result.summary(), err=True)
    click.echo(str(result.path))


@main.command(help="Replace the node's database with the backup in FILE, then migrate it.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="do not ask: every current row is replaced")
def restore(file: Path, yes: bool) -> None:
    from core import backup as backups
    from core.settings import get_settings

    if not yes:
        click.confirm(f"Replace this node's whole database with {file}?", abort=True)
    try:
        kind = backups.restore(get_settings(), file)
    except IdnestError as exc:
        click.echo(f"error: {exc.detail}", err=True)
        sys.exit(2)
    run_async(lambda: asyncio.sleep(0))  # the schema up to date with this release
    click.echo(f"restored the {kind} backup {file}; restart the node's processes", err=True)
