"""Tenants: prefixes under the node prefix, unique, never reused; status changes audited."""

from __future__ import annotations

import pytest
from node_support import as_node

from core.errors import Conflict, InvalidValue, NotFound
from core.tables import AuditLog, Outbox
from tenants.accounts.services.tenants import create_tenant, get_by_prefix, list_tenants, set_status

pytestmark = pytest.mark.anyio


async def test_prefixes_are_allocated_under_the_node_prefix_and_never_reused(client):
    a = await create_tenant("One", actor="test")
    b = await create_tenant("Two", actor="test")
    assert a.prefix.startswith("88.100.") and b.prefix.startswith("88.100.")
    assert int(b.code) == int(a.code) + 1
    await set_status(b.prefix, "closed", actor="test", reason="left the node")
    c = await create_tenant("Three", actor="test")
    assert int(c.code) == int(b.code) + 1  # the closed tenant's code is not handed out again
    with pytest.raises(Conflict, match="never reused"):
        await create_tenant("Squatter", code=b.code, actor="test")
    assert (await get_by_prefix(b.prefix)).status == "closed"


async def test_preferred_code(client):
    t = await create_tenant("Chosen", code="A77", actor="test")
    assert t.prefix == "88.100.a77"  # prefixes are case-insensitive; stored folded
    assert (await get_by_prefix("88.100.A77")).id == t.id
    with pytest.raises(Conflict):
        await create_tenant("Again", code="a77", actor="test")


@pytest.mark.parametrize("code", ["7.1", "", "a b", "x" * 33, "中文"])
async def test_bad_codes_are_refused(client, code):
    with pytest.raises(InvalidValue, match="enterprise code"):
        await create_tenant("Bad", code=code, actor="test")


async def test_bad_names_and_unknown_prefix(client):
    with pytest.raises(InvalidValue):
        await create_tenant("   ", actor="test")
    with pytest.raises(NotFound):
        await get_by_prefix("88.100.99999999")


async def test_lifecycle_writes_audit_and_outbox(client):
    t = await create_tenant("Audited", actor="test")
    await set_status(t.prefix, "suspended", actor="staff:1", reason="unpaid invoice")
    async with as_node():
        rows = await AuditLog.select().where(AuditLog.tenant_id == t.id).order_by(AuditLog.id).run()
    assert [r["action"] for r in rows] == ["tenant.create", "tenant.suspended"]
    assert rows[1]["actor"] == "staff:1"
    detail = rows[1]["detail"]
    assert "unpaid invoice" in (detail if isinstance(detail, str) else str(detail))
    async with as_node():
        topics = await Outbox.select(Outbox.topic).where(Outbox.tenant_id == t.id).run()
    assert [r["topic"] for r in topics] == ["upstream.tenant", "upstream.tenant"]
    assert t.prefix in {x.prefix for x in await list_tenants()}
