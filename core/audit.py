"""The audit log: who did what to which thing, when and why.

Call ``record`` inside the write's own transaction so the trail can never disagree
with the data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.tables import AuditLog
from core.tenancy import scope_of


async def record(
    *,
    actor: str,
    action: str,
    target: str = "",
    tenant_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    row = AuditLog(
        tenant_id=tenant_id,
        actor=actor,
        action=action,
        target=target[:2048],
        detail=detail or {},
        created_at=datetime.now(UTC),
    )
    # Joins the caller's transaction (scoping it if it was not): a tenant's event is
    # that tenant's row, a node-level event (no tenant) the node's.
    async with scope_of(tenant_id):
        await AuditLog.insert(row).run()
