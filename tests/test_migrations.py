"""Migrations build the schema from empty, on SQLite always and on PostgreSQL in the
postgres profile, and running them twice changes nothing."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

IDNEST = str(Path(sys.executable).with_name("idnest"))
TABLES = {
    "tenants",
    "users",
    "memberships",
    "api_keys",
    "identifiers",
    "audit_log",
    "outbox",
    "resolution_counts",
    "scheduled_jobs",
    "node_profile",
    "template_requests",
}


def _migrate(env: dict[str, str], cwd: str) -> None:
    for _ in range(2):
        out = subprocess.run(
            [IDNEST, "migrate"], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0, out.stderr
        assert "WARNING" not in out.stderr, out.stderr  # e.g. the audit sealer racing it


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDNEST_")}
    env.update(extra)
    return env


def test_sqlite_from_empty(tmp_workdir):
    var = os.path.join(tmp_workdir, "var")
    _migrate(_env(IDNEST_VAR_DIR=var), tmp_workdir)
    with sqlite3.connect(os.path.join(var, "idnest.sqlite3")) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert names >= TABLES
    assert "unique_handle" in indexes  # the composite unique key, as an index on SQLite
    assert mode == "wal"


@pytest.mark.skipif(os.environ.get("IDNEST_TEST_PROFILE") != "postgres", reason="postgres profile")
def test_postgres_from_empty(tmp_workdir):
    import asyncpg

    admin = os.environ.get("IDNEST_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"idnest_mig_{uuid.uuid4().hex[:8]}"
    url = admin.rsplit("/", 1)[0] + f"/{name}"

    async def run(sql: str, dsn: str = admin) -> list:
        conn = await asyncpg.connect(dsn)
        try:
            return await conn.fetch(sql)
        finally:
            await conn.close()

    from node_support import app_role_url

    app_url = app_role_url(url)
    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        env = _env(
            IDNEST_VAR_DIR=os.path.join(tmp_workdir, "var"),
            IDNEST_MIGRATION_DATABASE_URL=url,
            IDNEST_DATABASE_URL=app_url,
        )
        _migrate(env, tmp_workdir)
        rows = asyncio.run(run("SELECT tablename FROM pg_tables WHERE schemaname='public'", url))
        assert {r["tablename"] for r in rows} >= TABLES
        cons = asyncio.run(run("SELECT conname FROM pg_constraint WHERE contype='u'", url))
        assert "unique_handle" in {r["conname"] for r in cons}
        asyncio.run(_check_rls(url, app_url))
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _check_rls(owner_url: str, app_url: str) -> None:
    """After `idnest migrate`: every table with tenant_id has RLS enabled and forced,
    and the application's role sees a tenant's rows only inside that tenant's
    transaction, and cannot turn RLS off or skip it."""
    import asyncpg

    owner = await asyncpg.connect(owner_url)
    try:
        tables = await owner.fetch(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' "
            "WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace"
        )
        assert len(tables) >= 15
        assert all(t["relrowsecurity"] and t["relforcerowsecurity"] for t in tables), tables
        tid = await owner.fetchval(
            "INSERT INTO tenants (prefix, code, name, status, created_at, updated_at) "
            "VALUES ('88.100.rls', 'rls', 'RLS', 'active', now(), now()) RETURNING id"
        )
        await owner.execute(
            "INSERT INTO identifiers (tenant_id, handle, handle_key, created_at, updated_at) "
            "VALUES ($1, '88.100.rls/1', '88.100.rls/1', now(), now())",
            tid,
        )
    finally:
        await owner.close()
    app = await asyncpg.connect(app_url)
    try:
        role = await app.fetchrow(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
        assert not role["rolsuper"] and not role["rolbypassrls"]
        assert await app.fetchval("SELECT count(*) FROM identifiers") == 0
        async with app.transaction():
            await app.execute("SELECT set_config('app.tenant_id', $1, true)", str(tid))
            assert await app.fetchval("SELECT count(*) FROM identifiers") == 1
        assert await app.fetchval("SELECT count(*) FROM identifiers") == 0
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app.execute("ALTER TABLE identifiers DISABLE ROW LEVEL SECURITY")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app.execute("SET row_security = off; SELECT count(*) FROM identifiers")
    finally:
        await app.close()
