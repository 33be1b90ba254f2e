"""Schema changes the migrations share, written once for PostgreSQL and SQLite.

Migrations are authored for PostgreSQL and run unchanged on SQLite (core/db.py rewrites
what SQLite words differently). Two changes SQLite cannot make in place need more:

- Adding a foreign key to an existing column. SQLite has no ``ADD CONSTRAINT``. A
  foreign key does not change how rows or indexes are stored, so instead of copying the
  table (SQLite's 12-step rebuild, which would also have to recreate every index), the
  column's definition is rewritten in ``sqlite_master`` under ``writable_schema`` and
  the schema version is bumped so every connection re-reads it; this is the procedure
  SQLite's documentation gives for changes that leave the stored format alone. The
  existing rows are then checked with ``PRAGMA foreign_key_check``, and the migration
  fails (rolls back) if any row points at no tenant, as PostgreSQL's would.
- Partial unique indexes, which both engines support with the same words.
"""

from __future__ import annotations

import re
from typing import Any

from piccolo.engine.postgres import PostgresEngine

from core import db

TENANT_FK = 'REFERENCES "tenants" ("id") ON DELETE RESTRICT ON UPDATE CASCADE'


_NAME = re.compile(r"[a-z_][a-z0-9_]*")


def _name(table: str) -> str:
    """Table names come from migration code, never from input; checked all the same,
    since they are spliced into DDL (which takes no parameters)."""
    if not _NAME.fullmatch(table):
        raise ValueError(f"not a table name: {table!r}")
    return table


async def _rows(sql: str) -> list[dict[str, Any]]:
    return list(await db.engine().run_ddl(sql) or [])


async def add_tenant_fk(table: str, *, null: bool) -> None:
    """Make ``table.tenant_id`` (an integer column, or already a foreign key) a foreign
    key to ``tenants``, NOT NULL unless ``null``.

    Nullable columns used 0 for "no tenant" in older rows; those become NULL first. A
    NOT NULL column with a row that has no tenant fails the migration.
    """
    table = _name(table)
    eng = db.engine()
    if null:
        await eng.run_ddl(f'UPDATE "{table}" SET tenant_id = NULL WHERE tenant_id = 0')  # noqa: S608
    if isinstance(eng, PostgresEngine):
        await eng.run_ddl(f'ALTER TABLE "{table}" ALTER COLUMN tenant_id DROP DEFAULT')
        if not null:
            await eng.run_ddl(f'ALTER TABLE "{table}" ALTER COLUMN tenant_id SET NOT NULL')
        has_fk = await _rows(
            "SELECT 1 FROM pg_constraint WHERE contype = 'f' "  # noqa: S608
            f"AND conrelid = '\"{table}\"'::regclass AND confrelid = 'tenants'::regclass"
        )
        if not has_fk:
            await eng.run_ddl(
                f'ALTER TABLE "{table}" ADD CONSTRAINT "{table}_tenant_id_fkey" '
                f"FOREIGN KEY (tenant_id) {TENANT_FK}"
            )
        return
    found = await _rows(f"SELECT sql FROM sqlite_master WHERE type = 'table' AND name = '{table}'")  # noqa: S608
    if not found:
        raise RuntimeError(f"no table {table}")
    old_sql = found[0]["sql"]
    # The column's whole definition: no part of it (REFERENCES "tenants" ("id")...)
    # has a comma, and it ends at the next column or at the table's closing bracket.
    column = re.compile(r'"tenant_id" INTEGER[^,]*?(?=, "|\)$)')
    if not column.search(old_sql):
        raise RuntimeError(f"{table}.tenant_id is not an INTEGER column: {old_sql}")
    new_sql = column.sub(
        lambda m: f'"tenant_id" INTEGER {TENANT_FK}' + (" DEFAULT null" if null else " NOT NULL"),
        old_sql,
        count=1,
    )
    version = (await _rows("PRAGMA schema_version"))[0]["schema_version"]
    await eng.run_ddl("PRAGMA writable_schema = ON")
    await eng.run_ddl(
        "UPDATE sqlite_master SET sql = '{}' WHERE type = 'table' AND name = '{}'".format(  # noqa: S608
            new_sql.replace("'", "''"), table
        )
    )
    await eng.run_ddl(f"PRAGMA schema_version = {int(version) + 1}")
    await eng.run_ddl("PRAGMA writable_schema = OFF")
    orphans = await _rows(f'PRAGMA foreign_key_check("{table}")')
    if orphans:
        raise RuntimeError(f"{table}: {len(orphans)} rows name a tenant that does not exist")


async def has_column(table: str, column: str) -> bool:
    table, column = _name(table), _name(column)
    if isinstance(db.engine(), PostgresEngine):
        rows = await _rows(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "  # noqa: S608
            f"AND table_name = '{table}' AND column_name = '{column}'"
        )
        return bool(rows)
    return any(r["name"] == column for r in await _rows(f'PRAGMA table_info("{table}")'))
