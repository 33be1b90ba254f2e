"""The schema stays Citus-ready (core/citus.py, docs/scaling.md).

Read from the real migrated database of the profile under test (pg_catalog on
PostgreSQL, SQLite's PRAGMAs on the embedded profile, where the declaration in
core/tenancy.py is what is checked against): what Citus would refuse is exactly
``CITUS_GAPS``, so a new violation fails and a fixed one must leave the list. On
PostgreSQL the cutover preparation (``prepare_ddl``) is applied for real, in a
transaction rolled back, and the schema read again.

And no query joins tenant tables on anything but the tenant outside a named
cross-tenant path: a static check over the code (Piccolo foreign-key traversals
between tenant tables, and SQL text with JOIN), shown failing on planted examples.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from core import citus, db
from core.tenancy import CROSS_TENANT_PATHS, NODE_TABLES, TENANT_TABLES, piccolo_table

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "tenants", "resolver", "portal", "billing")


async def _schema() -> dict[str, citus.TableShape]:
    eng = db.engine()
    if isinstance(eng, db.PostgresEngine):
        async with eng.transaction() as tx:
            return await citus.read_schema(tx.connection)

    async def rows(sql: str) -> list[dict]:
        return list(await eng.run_ddl(sql) or [])

    return await citus.read_sqlite_schema(rows)


def _diff(found: list[str]) -> str:
    new = sorted(set(found) - set(citus.CITUS_GAPS))
    gone = sorted(set(citus.CITUS_GAPS) - set(found))
    return (
        f"new: {new} — include tenant_id in the key, or (a key that must stay node-wide, "
        f"as core/tenancy.py says why) list it in core.citus.CITUS_GAPS and docs/scaling.md; "
        f"fixed, delete from CITUS_GAPS: {gone}"
    )


async def test_what_citus_would_refuse_is_the_known_list(client):
    shape = await _schema()
    found = citus.violations(citus.prepared(shape))
    assert set(found) == set(citus.CITUS_GAPS), _diff(found)
    assert all(citus.CITUS_GAPS.values())


async def test_the_check_sees_a_planted_violation(client):
    shape = citus.prepared(await _schema())
    shape["identifiers"].uniques.append(("handle_key",))
    shape["code_mappings"].foreign_keys.append(("planted", ("identifier",), "identifiers", ("id",)))
    del shape["gs1_items"].columns["tenant_id"]
    found = set(citus.violations(shape)) - set(citus.CITUS_GAPS)
    assert found == {
        "identifiers: unique (handle_key)",
        "code_mappings: foreign key (identifier) -> identifiers",
        "gs1_items: no tenant_id",
    }


async def test_the_cutover_preparation_runs_on_the_real_schema(client):
    eng = db.engine()
    if not isinstance(eng, db.PostgresEngine):
        pytest.skip("ALTER TABLE … ADD PRIMARY KEY: PostgreSQL only")
    before = await _schema()
    ddl = citus.prepare_ddl(before)
    assert any("ADD PRIMARY KEY (tenant_id, id)" in s for s in ddl)
    assert any("FOREIGN KEY (tenant_id, invoice)" in s for s in ddl)

    class Rollback(Exception):
        pass

    import asyncpg

    from core.settings import get_settings

    # As the tables' owner, the way the cutover is run (the application's role owns nothing).
    conn = await asyncpg.connect(get_settings().migration_database_url)
    try:
        with pytest.raises(Rollback):
            async with conn.transaction():
                for statement in ddl:
                    await conn.execute(statement)
                after = await citus.read_schema(conn)
                raise Rollback
    finally:
        await conn.close()
    assert citus.violations(after) == citus.violations(citus.prepared(before))
    assert set(citus.violations(after)) == set(citus.CITUS_GAPS), _diff(citus.violations(after))
    # One type for every tenant_id (tenants.id's): the one colocation group Citus gives.
    async with eng.transaction() as tx:
        types = await tx.connection.fetch(
            "SELECT table_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND column_name = 'tenant_id'"
        )
    assert {r["data_type"] for r in types} == {"integer"}, sorted(
        (r["data_type"], r["table_name"]) for r in types
    )
    assert {r["table_name"] for r in types} == {t.name for t in TENANT_TABLES}


def test_citus_ddl_command_prints_every_table_once():
    from portal.cli import main

    result = CliRunner().invoke(main, ["db", "citus-ddl"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    dist_re = re.compile(r"SELECT create_distributed_table\('(\w+)', 'tenant_id'\);")
    ref_re = re.compile(r"SELECT create_reference_table\('(\w+)'\);")
    dist = [m.group(1) for x in lines if (m := dist_re.fullmatch(x))]
    ref = [m.group(1) for x in lines if (m := ref_re.fullmatch(x))]
    assert sorted(dist) == sorted(t.name for t in TENANT_TABLES)
    assert sorted(ref) == sorted(t.name for t in NODE_TABLES)
    # Reference tables first (tenant tables reference tenants), parents before children.
    assert lines.index(f"SELECT create_reference_table('{ref[-1]}');") < lines.index(
        f"SELECT create_distributed_table('{dist[0]}', 'tenant_id');"
    )
    for t in TENANT_TABLES:
        if t.parent:
            assert dist.index(t.parent) < dist.index(t.name)
    assert dist.index("billing_invoices") < dist.index("billing_invoice_lines")


# --- joins -------------------------------------------------------------------------


def _tenant_joins() -> dict[str, set[str]]:
    """Piccolo class name -> its foreign-key attributes that point at a tenant table."""
    tenant = {t.name for t in TENANT_TABLES}
    out: dict[str, set[str]] = {}
    for t in TENANT_TABLES:
        cls = piccolo_table(t.name)
        for fk in cls._meta.foreign_key_columns:
            ref = fk._foreign_key_meta.resolved_references._meta.tablename
            if ref in tenant and fk._meta.name != "tenant_id":
                out.setdefault(cls.__name__, set()).add(fk._meta.name)
    return out


_SQL_JOIN = re.compile(r"\bJOIN\s+\"?(\w+)\"?(.*?)(?=\bJOIN\b|\bWHERE\b|$)", re.I | re.S)


def _opens_cross_tenant(fn: ast.AST) -> bool:
    return any(
        isinstance(n, ast.Call)
        and getattr(n.func, "id", getattr(n.func, "attr", None)) == "cross_tenant"
        and n.args
        and isinstance(n.args[0], ast.Constant)
        and n.args[0].value in CROSS_TENANT_PATHS
        for n in ast.walk(fn)
    )


def cross_tenant_joins(source: str, name: str, joins: dict[str, set[str]]) -> list[str]:
    """Joins between tenant tables not on tenant_id, outside a function that opens a
    named cross-tenant path: ``Class.fk.column`` traversals and SQL ``JOIN t ON …``."""
    tenant = {t.name for t in TENANT_TABLES}
    tree = ast.parse(source)
    found: list[str] = []
    scopes = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    allowed = {id(n) for fn in scopes if _opens_cross_tenant(fn) for n in ast.walk(fn)}
    for node in ast.walk(tree):
        if id(node) in allowed:
            continue
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Attribute)
            and isinstance(node.value.value, ast.Name)
            and node.value.attr in joins.get(node.value.value.id, set())
        ):
            found.append(f"{name}:{node.lineno}: {node.value.value.id}.{node.value.attr} join")
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for table, cond in _SQL_JOIN.findall(node.value):
                if table in tenant and "tenant_id" not in cond:
                    found.append(f"{name}:{node.lineno}: JOIN {table} not on tenant_id")
    return sorted(set(found))


def test_no_join_crosses_tenants_outside_a_named_path():
    joins = _tenant_joins()
    assert joins, "no foreign keys between tenant tables found: the check sees nothing"
    found = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            found += cross_tenant_joins(path.read_text(), str(path.relative_to(ROOT)), joins)
    assert not found, found


PLANTED = """
async def report(month):
    return await InvoiceLine.select(InvoiceLine.invoice.number).where(
        InvoiceLine.invoice.month == month)

async def raw(conn):
    return await conn.fetch(
        "SELECT * FROM billing_invoice_lines l JOIN billing_invoices i ON i.id = l.invoice")

async def fine(conn):
    return await conn.fetch(
        "SELECT * FROM billing_invoice_lines l JOIN billing_invoices i "
        "ON i.tenant_id = l.tenant_id AND i.id = l.invoice")

async def staff(month):
    async with cross_tenant("payments"):
        return await InvoiceLine.select(InvoiceLine.invoice.number)
"""


def test_the_join_check_fails_on_a_planted_join():
    found = cross_tenant_joins(PLANTED, "planted.py", _tenant_joins())
    assert found == [
        "planted.py:3: InvoiceLine.invoice join",
        "planted.py:4: InvoiceLine.invoice join",
        "planted.py:8: JOIN billing_invoices not on tenant_id",
    ]
