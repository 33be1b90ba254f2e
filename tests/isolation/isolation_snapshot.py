"""Every row tenant B owns, as text, to compare before and after A's attempts.

The tables come from the migrated schema, not from a list: a table with a tenant column
is B's where that column is B's id; a table without one must be declared below as a
child (rows owned through another table) or node-wide, so a new table cannot slip by.
"""

from __future__ import annotations

from typing import Any

TENANT_COLUMNS = ("tenant_id", "tenant", "owner")
NODE_WIDE = {
    "migration": "Piccolo's record of applied migrations",
    "scheduled_jobs": "periodic jobs of the node (one run per period for all tenants)",
}
# Rows that legitimately move when anyone resolves B's public identifiers.
MOVES_BY_DESIGN = {
    "resolution_counts": "public resolutions of B's identifiers count toward B's usage",
}


def _children(tc: dict[str, str], b: int) -> dict[str, str]:
    """WHERE clauses for tables whose rows belong to B through another table."""
    users = f'SELECT "user" FROM memberships WHERE "{tc["memberships"]}" = {b}'
    jobs = f'"{tc["bulk_jobs"]}" = {b}'
    return {
        "tenants": f"id = {b}",
        "users": f"id IN ({users})",
        "onboarding_user_totp": f"user_id IN ({users})",
        "onboarding_uploads": f"user_id IN ({users})",
        "onboarding_email_tokens": f"user_id IN ({users})",
        "bulk_job_failures": f"job_id IN (SELECT id FROM bulk_jobs WHERE {jobs})",
        # Node-wide (core/tenancy.py): the application B was approved from.
        "onboarding_applications": f"approved_tenant_id = {b}",
    }


async def _raw(sql: str) -> list[dict[str, Any]]:
    from core.tables import AuditLog

    return list(await AuditLog.raw(sql).run())


async def schema() -> dict[str, list[str]]:
    """Table name -> column names, from the live database (either engine)."""
    from piccolo.engine.sqlite import SQLiteEngine

    from core.db import engine

    if isinstance(engine(), SQLiteEngine):
        names = [
            r["name"]
            for r in await _raw("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not r["name"].startswith("sqlite_")
        ]
        return {n: [c["name"] for c in await _raw(f"PRAGMA table_info('{n}')")] for n in names}
    rows = await _raw(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
    )
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(r["table_name"], []).append(r["column_name"])
    return out


async def plan(b: int) -> dict[str, str]:
    """Table -> WHERE clause selecting B's rows; fails on a table nobody declared."""
    tables = await schema()
    tc = {t: next(c for c in TENANT_COLUMNS if c in cols)
          for t, cols in tables.items() if any(c in cols for c in TENANT_COLUMNS)}  # fmt: skip
    children = _children(tc, b)
    where = {t: f'"{c}" = {b}' for t, c in tc.items() if t not in MOVES_BY_DESIGN}
    undeclared = set(tables) - set(tc) - set(children) - set(NODE_WIDE)
    assert not undeclared, (
        f"tables with no tenant column and no declaration here: {sorted(undeclared)}; "
        "give them a tenant column, or declare them as children or node-wide"
    )
    return {**where, **{t: w for t, w in children.items() if t in tables}}


async def snapshot(where: dict[str, str]) -> dict[str, list[str]]:
    from core.tenancy import cross_tenant

    out = {}
    # Under row-level security (the PostgreSQL profile) B's rows are seen on a
    # cross-tenant path only; outside one, the snapshot would be empty and prove nothing.
    async with cross_tenant("maintenance"):
        for table, clause in sorted(where.items()):
            rows = await _raw(f'SELECT * FROM "{table}" WHERE {clause}')
            out[table] = sorted(repr(sorted(r.items())) for r in rows)
    assert out.get("identifiers"), "B has identifiers: a snapshot without them saw nothing"
    return out


def diff(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
    changed = []
    for table in sorted(set(before) | set(after)):
        old, new = set(before.get(table, [])), set(after.get(table, []))
        changed += [f"{table}: - {row[:300]}" for row in sorted(old - new)]
        changed += [f"{table}: + {row[:300]}" for row in sorted(new - old)]
    return changed
