"""A validity window opens and closes without a write; the top-level node still learns
of it: each edge that passed is queued once as a modify (op 3) with the state it gives,
with a controllable clock. Revoked identifiers and plain records send nothing, and each
message is its own tenant's."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from lifecycle_support import register, set_status
from node_support import as_node

pytestmark = pytest.mark.anyio

AFTER_CLOSE = datetime(2030, 7, 1, 12, tzinfo=UTC)  # past 2030-06-30 in Asia/Shanghai
AFTER_OPEN = datetime(2030, 1, 2, 12, tzinfo=UTC)


async def _edges(tenant_id: int) -> list[dict[str, Any]]:
    from core.tables import Outbox

    async with as_node():
        rows = await (
            Outbox.select(Outbox.payload, Outbox.tenant_id)
            .where((Outbox.tenant_id == tenant_id) & (Outbox.topic == "upstream.identifier"))
            .order_by(Outbox.id)
            .run()
        )
    out = []
    for row in rows:
        data = row["payload"] if isinstance(row["payload"], dict) else json.loads(row["payload"])
        data = data.get("data", data)
        if "edge" in data.get("lifecycle", {}):
            out.append(data)
    return out


async def test_each_passed_edge_is_sent_once_with_the_state_it_gives(client, tenant_a, tenant_b):
    from tenants.identifiers.services.window_edges import report_passed_edges

    closes = await register(client, tenant_a, "WIN-CLOSE")
    await set_status(client, tenant_a, closes, "active", validUntil="2030-06-30")
    opens = await register(client, tenant_a, "WIN-OPEN")
    await set_status(client, tenant_a, opens, "active", validFrom="2030-01-01")
    revoked = await register(client, tenant_a, "WIN-REVOKED")
    await set_status(client, tenant_a, revoked, "revoked", validUntil="2030-06-30")
    await register(client, tenant_a, "PLAIN")
    theirs = await register(client, tenant_b, "WIN-B")
    await set_status(client, tenant_b, theirs, "active", validUntil="2030-06-30")

    # (The counts returned cover the whole node, other tests' tenants too: read ours.)
    await report_passed_edges(datetime(2029, 1, 1, tzinfo=UTC))
    assert await _edges(tenant_a.id) == []  # nothing passed yet

    assert await report_passed_edges(AFTER_OPEN) >= 1
    (opened,) = await _edges(tenant_a.id)
    assert opened["handle"] == opens and opened["op"] == 3
    assert opened["lifecycle"]["edge"] == "validFrom" and opened["lifecycle"]["state"] == "active"

    assert await report_passed_edges(AFTER_CLOSE) >= 2  # A's closing window and B's
    mine = await _edges(tenant_a.id)
    assert [(e["handle"], e["lifecycle"]["edge"], e["lifecycle"]["state"]) for e in mine] == [
        (opens, "validFrom", "active"),
        (closes, "validUntil", "expired"),
    ]
    assert mine[1]["lifecycle"]["since"] == "2030-06-30T16:00:00+00:00"
    assert [f["value"] for f in mine[1]["fields"] if f["type"] == "URL"]  # the record rides
    (their_edge,) = await _edges(tenant_b.id)  # B's message is B's row, naming B's handle
    assert their_edge["handle"] == theirs

    # Run again, later: every edge was told already.
    await report_passed_edges(AFTER_CLOSE)
    await report_passed_edges(datetime(2031, 1, 1, tzinfo=UTC))
    assert len(await _edges(tenant_a.id)) == 2 and len(await _edges(tenant_b.id)) == 1


async def test_a_plain_record_is_never_touched(client, tenant_a):
    from tenants.identifiers.services.window_edges import report_passed_edges
    from tenants.identifiers.tables import Identifier

    h = await register(client, tenant_a, "UNTOUCHED")
    async with as_node():
        before = await Identifier.select().where(Identifier.handle == h).first().run()
    await report_passed_edges(datetime(2031, 1, 1, tzinfo=UTC))
    async with as_node():
        after = await Identifier.select().where(Identifier.handle == h).first().run()
    assert after == before and after["window_reported_at"] is None
