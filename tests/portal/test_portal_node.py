"""Staff keep the node operator's profile (sent upstream when it changes) and request
new industry templates from the top-level node, seeing each request's status."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from fakes.toplevel import FakeTopLevelNode
from portal_support import Web, staff_login

pytestmark = pytest.mark.anyio



def _credit_code() -> str:
    from core.codes import credit_code_check_character

    first17 = "91110000600037341"
    return first17 + credit_code_check_character(first17)


async def _operator_messages() -> list[dict]:
    from core.tables import Outbox
    from core.tenancy import cross_tenant

    async with cross_tenant("maintenance"):  # RLS on PostgreSQL: a declared path
        rows = (
            await Outbox.select()
            .where(Outbox.topic == "upstream.operator")
            .order_by(Outbox.id)
            .run()
        )
    return [
        r["payload"] if isinstance(r["payload"], dict) else json.loads(r["payload"]) for r in rows
    ]


async def test_staff_keep_the_operator_profile_and_each_change_goes_upstream(web: Web, client):
    await staff_login(web, "admin")
    before = len(await _operator_messages())
    form = {
        "node_name": "Nest Node", "node_type": "industry", "operator_name": "Nest Ops Ltd",
        "credit_code": _credit_code(), "legal_representative": "Zhang San",
        "system_location": "Beijing", "data_location": "Tianjin", "escrow_provider": "Vault Co",
    }  # fmt: skip
    r = await web.post("/staff/node/profile", form, form_page="/staff/node/profile")
    assert r.status_code in (302, 303), r.text
    page = await web.get("/staff/node/profile")
    assert "Vault Co" in page.text and "Tianjin" in page.text
    sent = await _operator_messages()
    assert len(sent) == before + 1
    assert sent[-1]["credit_code"] == _credit_code() and sent[-1]["node_type"] == "industry"
    # Saving the same profile again sends nothing; a bad credit code is refused, unsaved.
    await web.post("/staff/node/profile", form, form_page="/staff/node/profile")
    assert len(await _operator_messages()) == before + 1
    bad = await web.post(
        "/staff/node/profile", {**form, "credit_code": "91110000600037341X"},
        form_page="/staff/node/profile",
    )  # fmt: skip
    assert bad.status_code == 400 and "Vault Co" in bad.text
    assert len(await _operator_messages()) == before + 1


async def test_the_profile_needs_an_admin(web: Web, client):
    await staff_login(web, "operator")
    assert (await web.get("/staff/node/profile")).status_code == 404


async def _set_aside_node_messages() -> None:
    """Earlier tests leave node-level messages (reports the fake node refused, backing
    off); the node's chain keeps its order, so ours would wait behind them. Mark them
    dead, as staff would, so this test sees only its own message."""
    from core.tables import Outbox
    from core.tenancy import cross_tenant

    async with cross_tenant("maintenance", write=True):
        await Outbox.update({Outbox.dead_at: datetime.now(UTC)}).where(
            Outbox.tenant_id.is_null() & Outbox.delivered_at.is_null() & Outbox.dead_at.is_null()
        ).run()


async def test_a_template_request_goes_upstream_and_shows_its_status(web: Web, client, settings):
    from core.delivery import deliver_once

    await _set_aside_node_messages()
    await staff_login(web, "operator")
    name = f"Valve passport {datetime.now(UTC).timestamp()}"
    r = await web.post(
        "/staff/template-requests", {"industry": "34", "name": name, "description": "valves"},
        form_page="/staff/template-requests",
    )  # fmt: skip
    assert r.status_code in (302, 303), r.text
    page = await web.get("/staff/template-requests")
    row = page.text.split(name)[1].split("</tr>")[0]
    assert "status-queued" in row
    with FakeTopLevelNode(username=None) as node:
        cfg = settings.model_copy(update={"upstream_url": node.url})
        # Other tests' messages may be queued ahead of it: deliver until it is sent, or
        # until a pass delivers nothing.
        got: list = []
        for _ in range(100):
            result = await deliver_once(cfg, now=datetime.now(UTC))
            got = [e for e in node.of_kind("template_request") if e["data"]["name"] == name]
            if got or not result.delivered:
                break
    assert len(got) == 1 and got[0]["data"]["industry"] == "34"
    row = (await web.get("/staff/template-requests")).text.split(name)[1].split("</tr>")[0]
    assert "status-sent" in row
    bad = await web.post(
        "/staff/template-requests", {"industry": "99x", "name": "x"},
        form_page="/staff/template-requests",
    )  # fmt: skip
    assert bad.status_code == 400
