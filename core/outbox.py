"""Durable intent for other systems (top-level node sync, billing usage).

``enqueue`` is called inside the write's transaction, so an acknowledged write always
has its outbox row; delivery happens later and may be retried.

``upstream.identifier`` payloads are ``{"handle", "op"}`` for a single write and
``{"items": [{"handle", "op"}, ...]}`` for a batch (SNMS batches, bulk-job chunks),
which writes one outbox row per transaction rather than one per identifier.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from core.tables import Outbox
from core.tenancy import cross_tenant, scope_of

# Identifier master-data operations as the top-level node counts them.
OP_ADD, OP_DELETE, OP_MODIFY = 1, 2, 3


async def enqueue(
    topic: str, payload: dict[str, Any], *, tenant_id: int | None = None, event_id: str = ""
) -> None:
    """Record a message for delivery (``core.delivery``), in the caller's transaction.

    Topics ``upstream.<kind>`` go to the top-level node; the payload is the message's
    ``data`` and must carry every field its kind needs (``core.upstream_messages``):
    the receiver gets it as it was when the change was made.
    """
    row = Outbox(
        tenant_id=tenant_id,
        topic=topic,
        payload=payload,
        created_at=datetime.now(UTC),
        event_id=event_id or uuid.uuid4().hex,
    )
    async with scope_of(tenant_id):
        await Outbox.insert(row).run()


async def enqueue_once(
    topic: str,
    payload: dict[str, Any],
    key: str,
    *,
    tenant_id: int | None = None,
    now: datetime | None = None,
) -> bool:
    """Enqueue a cadence message unless one with ``key`` exists (``node-stats:2026-12-01``);
    True if it was enqueued now. Two processes racing both try; the unique key keeps one."""
    async with scope_of(tenant_id):
        if await Outbox.exists().where(Outbox.dedupe_key == key[:128]).run():
            return False
        row = Outbox(
            tenant_id=tenant_id,
            topic=topic,
            payload=payload,
            created_at=now or datetime.now(UTC),
            event_id=uuid.uuid4().hex,
            dedupe_key=key[:128],
        )
        await Outbox.insert(row).on_conflict(target=Outbox.dedupe_key, action="DO NOTHING").run()
    return True


async def pending(limit: int = 100) -> list[dict[str, Any]]:
    async with cross_tenant("maintenance"):
        return (
            await Outbox.select()
            .where(Outbox.delivered_at.is_null())
            .order_by(Outbox.id)
            .limit(limit)
            .run()
        )
