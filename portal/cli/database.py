"""The database beyond migrations: the Citus distribution DDL (docs/scaling.md)."""

from __future__ import annotations

import sys
from typing import Any

import click

from portal.cli import main, run_async


@main.group("db", help="The database: Citus distribution DDL.")
def db_group() -> None:
    pass


@db_group.command(
    "citus-ddl",
    help="Print the Citus DDL generated from core/tenancy.py: reference tables for the "
    "node-wide tables, then create_distributed_table(…, 'tenant_id') for every tenant "
    "table, parents first. --prepare reads the PostgreSQL schema and prints first the "
    "primary- and foreign-key rewrites Citus needs (run them in one transaction).",
)
@click.option("--prepare", is_flag=True, help="read the database; print the key rewrites too")
def citus_ddl(prepare: bool) -> None:
    from core import citus

    shape: dict[str, Any] | None = None
    if prepare:
        from core import db

        async def read() -> dict[str, Any]:
            eng = db.engine()
            if not isinstance(eng, db.PostgresEngine):
                click.echo("error: --prepare needs IDNEST_DATABASE_URL on PostgreSQL", err=True)
                sys.exit(2)
            async with eng.transaction() as tx:
                return await citus.read_schema(tx.connection)
            raise AssertionError("unreachable")  # mypy: a transaction block may swallow

        shape = run_async(read)
        click.echo("BEGIN;")
        for statement in citus.prepare_ddl(shape):
            click.echo(statement)
        click.echo("COMMIT;")
    for statement in citus.distribution_ddl(shape):
        click.echo(statement)
    for gap, reason in citus.CITUS_GAPS.items() if prepare else ():
        click.echo(f"-- not ready: {gap}: {reason}")
