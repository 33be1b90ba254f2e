"""Row-level security on PostgreSQL, as the application's role: a deliberately
unscoped SELECT on each tenant table sees only the transaction's tenant, and nothing
outside a transaction; the role owns nothing and cannot turn RLS off or bypass it.
On SQLite (no RLS) the scoped transaction still refuses to act for another tenant."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import pytest

from core import tenancy
from core.tenancy import TENANT_TABLES, TenantScopeError, cross_tenant, tenant_transaction

pytestmark = pytest.mark.anyio
POSTGRES = os.environ.get("IDNEST_TEST_PROFILE") == "postgres"
needs_pg = pytest.mark.skipif(not POSTGRES, reason="postgres profile")
# Tables _seed writes a row of each tenant into (the others are covered by their tests).
SEEDED = (
    "identifiers",
    "api_keys",
    "audit_log",
    "outbox",
    "snms_accounts",
    "idempotency_keys",
    "bulk_jobs",
    "bulk_job_failures",
)


async def _seed(t: Any) -> None:
    """One row in every tenant table for tenant ``t`` (most already have one)."""
    from core.audit import record as audit
    from core.auth import Principal
    from tenants.identifiers.services.records import put_record
    from tenants.identifiers.tables import BulkJob, BulkJobFailure, IdempotencyKey, SnmsAccount

    now = datetime.now(UTC)
    p = Principal(
        actor="test", tenant_id=t.id, tenant_prefix=t.prefix, scopes=frozenset({"write", "read"})
    )
    await put_record(p, f"{t.prefix}/rls-1", [{"index": 1, "type": "URL", "data": "https://e.x/"}])
    async with tenant_transaction(t.id):
        await audit(actor="test", action="test.rls", tenant_id=t.id)
        await SnmsAccount.insert(
            SnmsAccount(tenant_id=t.id, username=f"rls-{t.id}", password_hash="x", created_at=now)
        ).run()
        await IdempotencyKey.insert(
            IdempotencyKey(tenant_id=t.id, key="k", fingerprint="f", created_at=now)
        ).run()
        job = (
            await BulkJob.insert(
                BulkJob(tenant_id=t.id, public_id=f"rls-{t.id}", created_at=now, updated_at=now)
            )
            .returning(BulkJob.id)
            .run()
        )
        await BulkJobFailure.insert(
            BulkJobFailure(tenant_id=t.id, job_id=job[0]["id"], row_no=1, message="m")
        ).run()


@needs_pg
async def test_app_role_sees_only_its_tenants_rows(tenant_a, tenant_b):
    await _seed(tenant_a)
    await _seed(tenant_b)
    for t in TENANT_TABLES:
        async with tenant_transaction(tenant_a.id) as tx:
            rows = await tx.connection.fetch(f'SELECT tenant_id FROM "{t.name}"')
        seen = {r["tenant_id"] for r in rows}
        allowed = {tenant_a.id, None} if t.shared_node_rows else {tenant_a.id}
        assert seen <= allowed, f"{t.name}: tenant {tenant_a.id} saw rows of {seen - allowed}"
        conn = await _app_connection()
        try:
            outside = await conn.fetchval(f'SELECT count(*) FROM "{t.name}"')
            shared = (
                await conn.fetchval(f'SELECT count(*) FROM "{t.name}" WHERE tenant_id IS NULL')
                if t.shared_node_rows
                else 0
            )
        finally:
            await conn.close()
        assert outside == shared, f"{t.name}: {outside} rows visible outside a transaction"
    # Both tenants' rows are there (the cross-tenant path sees them), so the tenant
    # transaction's view above was filtered, not empty.
    async with cross_tenant("staff") as tx:
        for name in SEEDED:
            rows = await tx.connection.fetch(f'SELECT tenant_id FROM "{name}"')
            assert {tenant_a.id, tenant_b.id} <= {r["tenant_id"] for r in rows}, name


@needs_pg
async def test_app_role_cannot_write_another_tenants_row(tenant_a, tenant_b):
    import asyncpg

    async with tenant_transaction(tenant_a.id) as tx:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await tx.connection.execute(
                "INSERT INTO idempotency_keys (tenant_id, key, fingerprint, response, created_at)"
                " VALUES ($1, 'x', 'f', '', now())",
                tenant_b.id,
            )
    async with tenant_transaction(tenant_a.id) as tx:
        moved = await tx.connection.execute(
            "UPDATE identifiers SET version = version + 1 WHERE tenant_id = $1", tenant_b.id
        )
        assert moved == "UPDATE 0"


@needs_pg
async def test_every_tenant_id_table_is_forced_and_the_role_cannot_bypass():
    conn = await _app_connection()
    try:
        role = await conn.fetchrow(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
        assert not role["rolsuper"] and not role["rolbypassrls"]
        owned = await conn.fetchval(
            "SELECT count(*) FROM pg_class WHERE relowner = "
            "(SELECT oid FROM pg_roles WHERE rolname = current_user)"
        )
        assert owned == 0
        tables = await conn.fetch(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' "
            "WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace"
        )
        assert {t["relname"] for t in tables} == {t.name for t in TENANT_TABLES}
        for t in tables:
            assert t["relrowsecurity"] and t["relforcerowsecurity"], t["relname"]
        import asyncpg

        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("ALTER TABLE identifiers DISABLE ROW LEVEL SECURITY")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("SET row_security = off; SELECT count(*) FROM identifiers")
    finally:
        await conn.close()


async def _app_connection() -> Any:
    import asyncpg

    return await asyncpg.connect(os.environ["IDNEST_DATABASE_URL"])


async def test_a_tenant_transaction_cannot_act_for_another(tenant_a, tenant_b):
    async with tenant_transaction(tenant_a.id):
        assert tenancy.current_tenant() == tenant_a.id
        with pytest.raises(TenantScopeError):
            async with tenant_transaction(tenant_b.id):
                pass
    assert tenancy.current_tenant() is None
    with pytest.raises(TenantScopeError):
        async with cross_tenant("anything"):
            pass
    with pytest.raises(TenantScopeError):
        async with cross_tenant("resolver", write=True):
            pass
