"""The idempotency-key purge runs by itself inside the served app: on schedule, and it
removes only keys past the retention window."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from node_support import as_node

pytestmark = pytest.mark.anyio


async def _add_key(tenant_id: int, age: timedelta) -> str:
    from tenants.identifiers.tables import IdempotencyKey

    key = f"k-{uuid.uuid4().hex[:10]}"
    async with as_node():
        await IdempotencyKey.insert(
            IdempotencyKey(
                tenant_id=tenant_id, key=key, fingerprint="f" * 64, response='{"ok": true}',
                created_at=datetime.now(UTC) - age,
            )
        ).run()  # fmt: skip
    return key


async def _keys(tenant_id: int) -> set[str]:
    from tenants.identifiers.tables import IdempotencyKey

    async with as_node():
        rows = (
            await IdempotencyKey.select(IdempotencyKey.key)
            .where(IdempotencyKey.tenant_id == tenant_id)
            .run()
        )
    return {r["key"] for r in rows}


async def _purge_row() -> dict:
    from core.tables import ScheduledJob

    row = await ScheduledJob.select().where(ScheduledJob.name == "idempotency-purge").first().run()
    return row or {}


async def _until(predicate, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_serve_purges_expired_keys_on_schedule(settings):
    from asgi_lifespan import LifespanManager

    from core.bus import set_bus
    from core.tables import ScheduledJob
    from portal.app import create_app
    from tenants.accounts.services.tenants import create_tenant

    # Its own tenant (keys name a real one): the purge sees no other test's keys.
    tenant = (await create_tenant(f"Purge {uuid.uuid4().hex[:6]}", actor="test")).id
    cfg = settings.model_copy(
        update={"scheduler_enabled": True, "scheduler_tick": 0.05, "idempotency_ttl_hours": 1}
    )
    await ScheduledJob.delete().where(ScheduledJob.name == "idempotency-purge").run()
    expired = await _add_key(tenant, timedelta(hours=2))
    fresh = await _add_key(tenant, timedelta(minutes=30))
    assert await _keys(tenant) == {expired, fresh}

    set_bus(None)
    async with LifespanManager(create_app(cfg), startup_timeout=30):
        await _until(_first_run_done)
        assert await _keys(tenant) == {fresh}
        row = await _purge_row()
        assert row["status"] == "ok" and "purged" in row["detail"]
        # The next run is an hour away: a key that expires now stays until then.
        assert row["due_at"] > datetime.now(UTC) + timedelta(minutes=59)
        late = await _add_key(tenant, timedelta(hours=3))
        await asyncio.sleep(0.5)  # ten due checks
        assert await _keys(tenant) == {fresh, late}
        # the hour passes
        await (
            ScheduledJob.update({ScheduledJob.due_at: datetime.now(UTC)})
            .where(ScheduledJob.name == "idempotency-purge")
            .run()
        )
        await _until(lambda: _runs_at_least(2))
        assert await _keys(tenant) == {fresh}
    set_bus(None)


async def _first_run_done() -> bool:
    return (await _purge_row()).get("runs", 0) >= 1


async def _runs_at_least(n: int) -> bool:
    return (await _purge_row()).get("runs", 0) >= n
