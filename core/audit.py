"""The audit log: who did what to which thing, when and why.

Call ``record`` inside the write's own transaction so the trail can never disagree
with the data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.tables import AuditLog


async def record(
    *,
    actor: str,
    action: str,
    target: str = "",
    tenant_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    await AuditLog.insert(
        AuditLog(
            tenant_id=tenant_id,
            actor=actor,
            action=action,
            target=target[:2048],
            detail=detail or {},
            created_at=datetime.now(UTC),
        )
    ).run()
