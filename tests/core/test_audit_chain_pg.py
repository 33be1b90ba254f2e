"""The audit chain on PostgreSQL, as the application's role: concurrent appends never
fork it, the role may insert entries but neither change nor remove them, and verify
holds over what was written."""

from __future__ import annotations

import asyncio
import os

import pytest

from core.tenancy import tenant_transaction

POSTGRES = os.environ.get("IDNEST_TEST_PROFILE") == "postgres"
pytestmark = [pytest.mark.anyio, pytest.mark.skipif(not POSTGRES, reason="postgres profile")]


async def test_concurrent_appends_make_one_chain(tenant_a, tenant_b):
    from core import audit

    async def write(tenant_id: int, n: int) -> None:
        async with tenant_transaction(tenant_id):
            await audit.record(actor="test", action="test.concurrent", target=str(n),
                               tenant_id=tenant_id)  # fmt: skip

    await asyncio.gather(*(write((tenant_a, tenant_b)[n % 2].id, n) for n in range(40)))
    verdict = await audit.verify()
    assert verdict.holds, verdict


async def test_the_app_role_cannot_change_or_remove_entries(tenant_a):
    import asyncpg

    from core import audit

    await audit.record(actor="test", action="test.appendonly", tenant_id=tenant_a.id)
    for sql in (
        "UPDATE audit_log SET actor = 'me' WHERE tenant_id = $1",
        "DELETE FROM audit_log WHERE tenant_id = $1",
    ):
        async with tenant_transaction(tenant_a.id) as tx:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await tx.connection.execute(sql, tenant_a.id)
    assert (await audit.verify()).holds
