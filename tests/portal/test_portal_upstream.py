"""Staff see the messages the top-level node refused (dead letters) and send one again;
staff without the operator role do not see the page."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fakes.toplevel import FakeTopLevelNode
from portal_support import Web, staff_login

pytestmark = pytest.mark.anyio



async def test_staff_resend_a_dead_letter(web: Web, client, settings, tenant_a):
    from core import outbox
    from core.delivery import deliver_once

    with FakeTopLevelNode(username=None) as node:
        cfg = settings.model_copy(update={"upstream_url": node.url, "outbox_max_attempts": 1})
        await outbox.enqueue("upstream.identifier", {"op": 1}, tenant_id=tenant_a.id)
        for _ in range(5):
            await deliver_once(cfg, now=datetime.now(UTC))
    from core.tables import Outbox
    from core.tenancy import cross_tenant

    async with cross_tenant("maintenance"):  # RLS on PostgreSQL: a declared path
        row = await Outbox.select().where(Outbox.tenant_id == tenant_a.id).order_by(
            Outbox.id, ascending=False).first().run()  # fmt: skip
    assert row["dead_at"] is not None

    await staff_login(web, "operator")
    page = await web.get("/staff/outbox")
    assert page.status_code == 200 and row["event_id"] in page.text
    assert "data needs handle or items" in page.text
    r = await web.post(f"/staff/outbox/{row['id']}/resend", {}, form_page="/staff/outbox")
    assert r.status_code in (302, 303) and r.headers["location"] == "/staff/outbox"
    page = await web.get("/staff/outbox")
    assert row["event_id"] not in page.text
    async with cross_tenant("maintenance"):
        again = await Outbox.select().where(Outbox.id == row["id"]).first().run()
    assert again["dead_at"] is None and again["attempts"] == 0


async def test_the_outbox_page_needs_the_operator_role(web: Web, client):
    await staff_login(web, "reviewer")
    assert (await web.get("/staff/outbox")).status_code == 404
