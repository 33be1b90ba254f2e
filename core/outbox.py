"""Durable intent for other systems (top-level node sync, billing usage).

``enqueue`` is called inside the write's transaction, so an acknowledged write always
has its outbox row; delivery happens later and may be retried.

``upstream.identifier`` payloads are ``{"handle", "op"}`` for a single write and
``{"items": [{"handle", "op"}, ...]}`` for a batch (SNMS batches, bulk-job chunks),
which writes one outbox row per transaction rather than one per identifier.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.tables import Outbox
from core.tenancy import cross_tenant, scope_of

# Identifier master-data operations as the top-level node counts them.
OP_ADD, OP_DELETE, OP_MODIFY = 1, 2, 3


async def enqueue(topic: str, payload: dict[str, Any], *, tenant_id: int | None = None) -> None:
    row = Outbox(tenant_id=tenant_id, topic=topic, payload=payload, created_at=datetime.now(UTC))
    async with scope_of(tenant_id):
        await Outbox.insert(row).run()


async def pending(limit: int = 100) -> list[dict[str, Any]]:
    async with cross_tenant("maintenance"):
        return (
            await Outbox.select()
            .where(Outbox.delivered_at.is_null())
            .order_by(Outbox.id)
            .limit(limit)
            .run()
        )
