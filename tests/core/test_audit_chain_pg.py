"""The audit chain on PostgreSQL, as the application's role: writers insert entries
without waiting on each other, each process links them moments later into one chain
that never forks, the role may insert entries and link them once but neither change
nor remove them, and what a killed writer left unlinked is linked by the periodic job."""

from __future__ import annotations

import asyncio
import contextvars
import os

import pytest

from core.tenancy import cross_tenant, tenant_transaction

POSTGRES = os.environ.get("IDNEST_TEST_PROFILE") == "postgres"
pytestmark = [pytest.mark.anyio, pytest.mark.skipif(not POSTGRES, reason="postgres profile")]


async def _unlinked() -> int:
    from core.tables import AuditLog

    async with cross_tenant("staff"):
        return int(await AuditLog.count().where(AuditLog.seq == 0).run())


async def _write(tenant_id: int, n: int, action: str = "test.concurrent") -> None:
    from core import audit

    async with tenant_transaction(tenant_id):
        await audit.record(actor="test", action=action, target=str(n), tenant_id=tenant_id)


async def test_concurrent_appends_are_linked_into_one_chain_by_themselves(tenant_a, tenant_b):
    from core import audit
    from core.tables import AuditLog

    await asyncio.gather(*(_write((tenant_a, tenant_b)[n % 2].id, n) for n in range(40)))
    # Nobody calls seal: the writing process links its entries moments after.
    for _ in range(100):
        if await _unlinked() == 0:
            break
        await asyncio.sleep(0.05)
    assert await _unlinked() == 0
    verdict = await audit.verify()
    assert verdict.holds and verdict.unlinked == 0, verdict
    async with cross_tenant("staff"):
        rows = await AuditLog.select(AuditLog.seq).where(AuditLog.action == "test.concurrent").run()
    seqs = sorted(r["seq"] for r in rows)
    assert len(seqs) == 40 and len(set(seqs)) == 40 and seqs[0] > 0


async def test_an_entry_is_visible_unlinked_until_sealed_and_verify_counts_it(tenant_a):
    from core import audit

    async with tenant_transaction(tenant_a.id):
        await audit.record(actor="test", action="test.pending", tenant_id=tenant_a.id)
        # inside the writer's transaction the head is untouched: nothing here waits
        # on another writer
    audit._wanted = False  # as if the process died before its sealer ran
    if audit._task is not None:
        audit._task.cancel()
    await asyncio.sleep(0.1)
    assert await _unlinked() >= 1
    verdict = await audit.verify()
    assert verdict.holds and verdict.unlinked >= 1
    assert "linked" in await audit.seal_left_over(None)  # type: ignore[arg-type]
    assert await _unlinked() == 0 and (await audit.verify()).holds


async def test_the_app_role_cannot_change_remove_or_relink_entries(tenant_a):
    import asyncpg

    from core import audit

    await _write(tenant_a.id, 1, "test.appendonly")
    await audit.seal()
    for sql in (
        "UPDATE audit_log SET actor = 'me' WHERE tenant_id = $1",
        "DELETE FROM audit_log WHERE tenant_id = $1",
        # the link columns are writable only while unlinked: a linked entry stays
        "UPDATE audit_log SET hash = repeat('0', 64) WHERE tenant_id = $1",
    ):
        async with tenant_transaction(tenant_a.id) as tx:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await tx.connection.execute(sql, tenant_a.id)
    assert (await audit.verify()).holds


async def test_a_stalled_sealer_does_not_hold_the_others_for_ever(tenant_a):
    """A sealer whose process stalls (its event loop blocked) keeps the head locked; the
    next one gives up after SEAL_LOCK_TIMEOUT_MS instead of hanging its process's exit."""
    import time

    from core import audit

    await _write(tenant_a.id, 1, "test.stalled")
    async with cross_tenant("maintenance", write=True) as tx:
        await tx.connection.execute("SELECT 1 FROM audit_head WHERE id = 1 FOR UPDATE")
        started = time.monotonic()
        second = asyncio.create_task(audit.seal(), context=contextvars.Context())
        with pytest.raises(Exception, match="lock timeout"):
            await second
        assert time.monotonic() - started < audit.SEAL_LOCK_TIMEOUT_MS / 1000 + 2
    await audit.flush()  # the write's entry is linked once the head is free
    assert await audit.seal() >= 0 and await _unlinked() == 0
