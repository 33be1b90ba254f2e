"""The migrated schema matches core/tenancy.py: every table is declared, every tenant
table has tenant_id (a foreign key to tenants), and every unique key on one includes
tenant_id or is declared node-wide with a reason. Read from the real database of the
profile under test (SQLite or PostgreSQL), not from the Piccolo classes."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from core import db
from core.tenancy import NODE_TABLES, TENANT_COLUMN, TENANT_TABLES, declared_names

pytestmark = pytest.mark.anyio


@dataclass
class Shape:
    columns: dict[str, bool]  # name -> nullable
    tenant_fk: bool  # tenant_id references tenants(id)
    uniques: list[tuple[str, ...]]  # columns of each unique key but the primary key


async def _rows(sql: str) -> list[dict]:
    return list(await db.engine().run_ddl(sql) or [])


async def _sqlite_schema() -> dict[str, Shape]:
    out = {}
    tables = await _rows(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    for t in (r["name"] for r in tables):
        cols = {c["name"]: not c["notnull"] for c in await _rows(f'PRAGMA table_info("{t}")')}
        fks = await _rows(f'PRAGMA foreign_key_list("{t}")')
        uniques = []
        for ix in await _rows(f'PRAGMA index_list("{t}")'):
            if ix["unique"] and ix["origin"] != "pk":
                info = await _rows(f'PRAGMA index_info("{ix["name"]}")')
                uniques.append(tuple(i["name"] for i in info))
        out[t] = Shape(
            cols,
            any(f["from"] == TENANT_COLUMN and f["table"] == "tenants" for f in fks),
            uniques,
        )
    return out


async def _postgres_schema() -> dict[str, Shape]:
    out = {}
    tables = await _rows("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    for t in (r["tablename"] for r in tables):
        cols = {
            c["column_name"]: c["is_nullable"] == "YES"
            for c in await _rows(
                "SELECT column_name, is_nullable FROM information_schema.columns "
                f"WHERE table_schema = current_schema() AND table_name = '{t}'"
            )
        }
        fk = await _rows(
            "SELECT 1 FROM pg_constraint c JOIN pg_attribute a "
            "ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) "
            f"WHERE c.contype = 'f' AND c.conrelid = '\"{t}\"'::regclass "
            f"AND c.confrelid = 'tenants'::regclass AND a.attname = '{TENANT_COLUMN}'"
        )
        uniques = await _rows(
            "SELECT array_agg(a.attname ORDER BY k.n) AS cols FROM pg_index i "
            "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
            f"WHERE i.indrelid = '\"{t}\"'::regclass AND i.indisunique AND NOT i.indisprimary "
            "GROUP BY i.indexrelid"
        )
        out[t] = Shape(cols, bool(fk), [tuple(u["cols"]) for u in uniques])
    return out


@pytest.fixture
async def schema(client) -> dict[str, Shape]:
    if isinstance(db.engine(), db.PostgresEngine):
        return await _postgres_schema()
    return await _sqlite_schema()


async def test_every_table_is_declared(schema):
    undeclared = set(schema) - declared_names()
    assert not undeclared, f"declare these in core/tenancy.py: {sorted(undeclared)}"
    gone = declared_names() - set(schema)
    assert not gone, f"declared but not in the migrated schema: {sorted(gone)}"


async def test_a_table_is_declared_once():
    names = [t.name for t in TENANT_TABLES] + [t.name for t in NODE_TABLES]
    assert len(names) == len(set(names))
    assert all(t.reason for t in NODE_TABLES)


async def test_tenant_tables_have_a_tenant_foreign_key(schema):
    for t in TENANT_TABLES:
        shape = schema[t.name]
        assert TENANT_COLUMN in shape.columns, f"{t.name} has no {TENANT_COLUMN}"
        assert shape.tenant_fk, f"{t.name}.{TENANT_COLUMN} is not a foreign key to tenants"
        assert shape.columns[TENANT_COLUMN] == t.nullable, (
            f"{t.name}.{TENANT_COLUMN} nullable={shape.columns[TENANT_COLUMN]}, "
            f"declared nullable={t.nullable}"
        )


async def test_unique_keys_include_the_tenant_or_say_why(schema):
    for t in TENANT_TABLES:
        for cols in schema[t.name].uniques:
            if TENANT_COLUMN in cols:
                continue
            assert t.node_wide_unique.get(cols), (
                f"{t.name}: unique key {cols} leaves out {TENANT_COLUMN}; include it, or "
                "declare it node-wide with a reason in core/tenancy.py"
            )
        # A declared exception that no longer exists would hide a later one.
        for cols in t.node_wide_unique:
            assert cols in schema[t.name].uniques, f"{t.name}: no unique key {cols}"


async def test_only_tenant_tables_have_a_tenant_id_column(schema):
    """Every table with tenant_id is under row-level security, so a node-wide table
    that merely refers to a tenant names its column otherwise."""
    for t in NODE_TABLES:
        assert TENANT_COLUMN not in schema[t.name].columns, t.name


async def test_declared_columns_exist(schema):
    for t in TENANT_TABLES:
        for col in t.secret_columns:
            assert col in schema[t.name].columns, f"{t.name}.{col}"
        if t.parent:
            assert t.parent in {x.name for x in TENANT_TABLES}
