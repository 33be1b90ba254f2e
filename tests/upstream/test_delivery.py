"""The delivery worker against the fake top-level node, with a controllable clock: an
hour's outage loses nothing and keeps each tenant's order; a refused message becomes a
dead letter after N tries without holding its tenant back, and staff can send it again."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from fakes.toplevel import FakeTopLevelNode

pytestmark = pytest.mark.anyio
JSON = {"Content-Type": "application/json"}


@pytest.fixture(autouse=True)
async def _earlier_tests_delivered(client):
    """The session's database holds what earlier tests enqueued; deliver_once would send
    all of it first (a minute of the run). Set it aside: these tests read their own."""
    from core.tables import Outbox
    from core.tenancy import cross_tenant

    async with cross_tenant("maintenance", write=True):
        await Outbox.update({Outbox.delivered_at: datetime.now(UTC)}).where(
            Outbox.delivered_at.is_null()
        )


def _cfg(settings, node: FakeTopLevelNode, **over):
    return settings.model_copy(update={"upstream_url": node.url, "upstream_timeout": 2.0, **over})


async def _register(client, t, name: str) -> None:
    body = {"values": [{"index": 1, "type": "URL", "data": f"https://example.com/{name}"}]}
    r = await client.put(f"/api/handles/{t.prefix}/{name}", json=body, headers={**t.auth(), **JSON})
    assert r.status_code in (200, 201), r.text


def _handles(node: FakeTopLevelNode, prefix: str) -> list[str]:
    return [e["data"]["handle"] for e in node.of_kind("identifier") if e["tenant"] == prefix]


async def _deliver_until_quiet(cfg, now: datetime, rng) -> datetime:
    from core.delivery import deliver_once

    for _ in range(50):
        result = await deliver_once(cfg, now=now, rng=rng)
        if not result.delivered and not result.failed:
            return now
        now += timedelta(seconds=cfg.outbox_backoff_max)
    raise AssertionError("the outbox never went quiet")


async def test_an_hour_of_outage_loses_nothing_and_keeps_each_tenants_order(
    client, settings, tenant_a, tenant_b
):
    from core.delivery import deliver_once

    rng = random.Random(7)
    with FakeTopLevelNode(username=None) as node:
        cfg = _cfg(settings, node)
        node.mode = "down"
        start = datetime.now(UTC)
        written: dict[str, list[str]] = {tenant_a.prefix: [], tenant_b.prefix: []}
        # One registration per tenant every 5 simulated minutes; the worker keeps trying.
        for minute in range(0, 60, 5):
            for t in (tenant_a, tenant_b):
                name = f"OUT-{minute:02d}"
                await _register(client, t, name)
                written[t.prefix].append(f"{t.prefix}/{name}")
            result = await deliver_once(cfg, now=start + timedelta(minutes=minute), rng=rng)
            assert result.delivered == 0
        tries = sum(1 for h in node.hits if h.startswith("POST /upstream/"))
        assert tries >= 5, "the worker should keep trying through the outage"
        assert not node.events

        node.mode = ""  # the top-level node is back
        await _deliver_until_quiet(cfg, start + timedelta(minutes=65), rng)
        for t in (tenant_a, tenant_b):
            assert _handles(node, t.prefix) == written[t.prefix]
        assert node.duplicates == 0
        first = next(e for e in node.of_kind("identifier") if e["tenant"] == tenant_a.prefix)
        assert first["data"]["op"] == 1 and first["data"]["code"] == written[tenant_a.prefix][0]
        assert first["data"]["fields"][0]["type"] == "URL" and first["data"]["created"]

    from core.delivery import dead_letters

    assert not [d for d in await dead_letters() if d["tenant_id"] in (tenant_a.id, tenant_b.id)]


async def test_a_refused_message_is_dead_lettered_and_can_be_sent_again(client, settings, tenant_a):
    from core import outbox
    from core.delivery import dead_letters, deliver_once, resend

    rng = random.Random(3)
    with FakeTopLevelNode(username=None) as node:
        cfg = _cfg(settings, node, outbox_max_attempts=2)
        # No handle: the fake node refuses it (status -2), every time.
        await outbox.enqueue("upstream.identifier", {"op": 1}, tenant_id=tenant_a.id)
        await _register(client, tenant_a, "AFTER-BAD")
        now = datetime.now(UTC)
        await deliver_once(cfg, now=now, rng=rng)
        assert _handles(node, tenant_a.prefix) == []  # held behind the refused one, in order
        now = await _deliver_until_quiet(cfg, now + timedelta(minutes=10), rng)
        assert _handles(node, tenant_a.prefix) == [f"{tenant_a.prefix}/AFTER-BAD"]
        dead = [d for d in await dead_letters() if d["tenant_id"] == tenant_a.id]
        assert len(dead) == 1 and dead[0]["attempts"] == 2
        assert "identifier: data needs handle or items" in dead[0]["last_error"]

        assert await resend(dead[0]["id"])
        assert not await resend(dead[0]["id"])  # no longer a dead letter
        assert not [d for d in await dead_letters() if d["tenant_id"] == tenant_a.id]
        await _deliver_until_quiet(cfg, now + timedelta(minutes=10), rng)
        again = [d for d in await dead_letters() if d["tenant_id"] == tenant_a.id]
        assert len(again) == 1 and again[0]["event_id"] == dead[0]["event_id"]


async def test_one_bad_event_in_a_batch_does_not_stop_the_others(client, settings, tenant_a):
    from core import outbox

    rng = random.Random(5)
    with FakeTopLevelNode(username=None) as node:
        cfg = _cfg(settings, node, outbox_max_attempts=1)
        good = [f"{tenant_a.prefix}/B-{n}" for n in range(3)]
        await outbox.enqueue(
            "upstream.identifier", {"handle": good[0], "op": 1}, tenant_id=tenant_a.id
        )
        await outbox.enqueue("upstream.identifier", {"op": 1}, tenant_id=tenant_a.id)
        for h in good[1:]:
            await outbox.enqueue(
                "upstream.identifier", {"handle": h, "op": 1}, tenant_id=tenant_a.id
            )
        await _deliver_until_quiet(cfg, datetime.now(UTC), rng)
        assert _handles(node, tenant_a.prefix) == good


async def test_a_tenant_backing_off_does_not_keep_the_others_waiting(
    client, settings, tenant_a, tenant_b
):
    """A's first message is refused and backs off, with more of A's queued behind it than
    one pass reads; B's registration is still delivered in the meantime."""
    from core import outbox
    from core.delivery import deliver_once

    rng = random.Random(11)
    with FakeTopLevelNode(username=None) as node:
        cfg = _cfg(settings, node, outbox_batch=1, outbox_max_attempts=50)
        await outbox.enqueue("upstream.identifier", {"op": 1}, tenant_id=tenant_a.id)
        for n in range(30):  # three passes' worth (a pass reads outbox_batch * 10 rows)
            await _register(client, tenant_a, f"HELD-{n}")
        now = datetime.now(UTC)
        for _ in range(100):
            if (await deliver_once(cfg, now=now, rng=rng)).delivered == 0:
                break
        await _register(client, tenant_b, "NOT-HELD")
        for _ in range(100):  # the same instant: A is still backing off throughout
            result = await deliver_once(cfg, now=now, rng=rng)
            if f"{tenant_b.prefix}/NOT-HELD" in _handles(node, tenant_b.prefix):
                break
            assert result.delivered, "B's message was never read while A backed off"
        assert _handles(node, tenant_a.prefix) == []


async def test_backoff_doubles_is_capped_and_jittered(settings):
    from core.delivery import backoff

    cfg = settings.model_copy(update={"outbox_backoff_base": 1.0, "outbox_backoff_max": 60.0})
    rng = random.Random(1)
    waits = [backoff(n, cfg, rng) for n in range(1, 10)]
    for n, wait in enumerate(waits, 1):
        ceiling = min(60.0, 2 ** (n - 1))
        assert ceiling / 2 <= wait <= ceiling
    assert len({round(backoff(4, cfg, rng), 6) for _ in range(5)}) == 5  # jittered
