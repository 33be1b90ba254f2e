"""``idnest devtools toplevel``: a real process that checks what it is sent against the
§4 shapes, keeps each event once, serves templates and fails on demand; and the
delivery worker treats its failures as an outage (wait), not as a refusal (dead letter)."""

from __future__ import annotations

import random
import subprocess
import time
from datetime import UTC, datetime

import httpx
import pytest
import smoke_support
from fakes.toplevel import FakeTopLevelNode


def _event(event_id: str, **data) -> dict:
    return {"eventId": event_id, "kind": "identifier", "tenant": "88.100.9",
            "occurredAt": "2026-12-02T00:00:00+00:00", "data": data}  # fmt: skip


def test_the_devtool_validates_stores_once_and_fails_on_demand(tmp_workdir):
    port = smoke_support.free_port()
    proc = subprocess.Popen(
        [smoke_support.IDNEST, "devtools", "toplevel", "--port", str(port)],
        cwd=tmp_workdir, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{base}/_devtools/received", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        push = f"{base}/upstream/v1/identifier"
        bad = httpx.post(push, json={"node": "88.100", "events": [_event("e1", op=1)]}).json()
        assert bad["status"] == -2 and "handle or items" in bad["message"]
        good = {"node": "88.100", "events": [_event("e2", handle="88.100.9/X", op=1)]}
        assert httpx.post(push, json=good).json()["status"] == 1
        assert httpx.post(push, json=good).json()["status"] == 1  # a repeat: taken, not kept
        got = httpx.get(f"{base}/_devtools/received").json()["data"]
        assert [e["eventId"] for e in got["events"]] == ["e2"] and got["duplicates"] == 1

        templates = [{"code": "T1", "version": "v1.0", "items": []}]
        httpx.post(f"{base}/_devtools/templates", json=templates)
        served = httpx.get(f"{base}/snms/api/v5/template").json()
        assert served["status"] == 1 and served["data"] == templates

        httpx.post(f"{base}/_devtools/fault", json={"mode": "drop"})
        with pytest.raises(httpx.TransportError):
            httpx.post(push, json=good)
        httpx.post(f"{base}/_devtools/fault", json={"fail_next": 1})
        assert httpx.post(push, json=good).status_code == 503
        assert httpx.post(push, json=good).json()["status"] == 1
        refused = httpx.post(f"{base}/_devtools/fault", json={"mode": "sideways"}).json()
        assert refused["status"] == -2
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["down", "drop", "timeout"])
async def test_an_unreachable_node_never_dead_letters(client, settings, tenant_a, mode):
    from core import outbox
    from core.delivery import dead_letters, deliver_once
    from core.tables import Outbox
    from core.tenancy import cross_tenant

    with FakeTopLevelNode(username=None) as node:
        cfg = settings.model_copy(
            update={"upstream_url": node.url, "outbox_max_attempts": 1, "upstream_timeout": 0.3}
        )
        # Earlier tests may have left messages pending; a pass stops at the first chain
        # the node refuses, so hand those over first, while the node still answers.
        for _ in range(50):
            if not (await deliver_once(cfg, now=datetime.now(UTC))).delivered:
                break
        node.mode, node.delay = mode, 1.0
        await outbox.enqueue("upstream.identifier", {"handle": "x", "op": 1}, tenant_id=tenant_a.id)
        for _ in range(3):
            result = await deliver_once(cfg, now=datetime.now(UTC), rng=random.Random(1))
            assert result.delivered == 0
        async with cross_tenant("maintenance"):  # RLS on PostgreSQL: a declared path
            rows = (
                await Outbox.select()
                .where(Outbox.tenant_id == tenant_a.id, Outbox.delivered_at.is_null())
                .order_by(Outbox.id)
                .run()
            )
        assert rows[0]["attempts"] >= 1 and rows[0]["next_attempt_at"]  # the head waits
        assert rows and all(r["dead_at"] is None for r in rows)
        assert not [d for d in await dead_letters() if d["tenant_id"] == tenant_a.id]
        node.mode = ""
        node.hits.clear()
