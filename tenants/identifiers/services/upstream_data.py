"""Identifier master data as the top-level node receives it (REFERENCE §4): code,
created, template, op (1 add, 2 delete, 3 modify) and fields, built when the write is
made, so the outbox row carries the record as it was then (core.delivery sends it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.outbox import enqueue
from core.values import HandleValue

TEMPLATE_INDEX = 1001
# Administrative values are the node's business, not master data.
_NOT_FIELDS = {"HS_ADMIN", "HS_SECKEY", "HS_PUBKEY", "HS_VLIST"}


def master_data(handle: str, op: int, values: list[HandleValue],
                created: datetime | None) -> dict[str, Any]:  # fmt: skip
    template = next((str(v.data.value) for v in values if v.index == TEMPLATE_INDEX), "")
    fields = [
        {"index": v.index, "type": v.type, "value": v.data.value}
        for v in values
        if v.type not in _NOT_FIELDS and v.index != TEMPLATE_INDEX
    ]
    return {
        "handle": handle,
        "code": handle,
        "op": op,
        "created": (created or datetime.now(UTC)).isoformat(),
        "template": template,
        "fields": fields,
    }


async def send_master_data(tenant_id: int, handle: str, op: int, values: list[HandleValue],
                           created: datetime | None,
                           lifecycle: dict[str, Any] | None = None) -> None:  # fmt: skip
    """Enqueue one identifier's change, inside the write's transaction. A status change
    (services/lifecycle.py) adds ``lifecycle``: status, reason, validFrom, validUntil."""
    data = master_data(handle, op, values, created)
    if lifecycle is not None:
        data["lifecycle"] = lifecycle
    await enqueue("upstream.identifier", data, tenant_id=tenant_id)
