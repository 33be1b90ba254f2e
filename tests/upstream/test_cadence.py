"""Every §4 cadence with a controllable clock: daily items once per Asia/Shanghai day
(for the day that ended), enterprise profiles hourly and on change, the resolution
configuration and templates on change; the figures are core.usage's (what billing reads)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest

pytestmark = pytest.mark.anyio



async def _rows(prefix: str) -> list[dict]:
    from core.tables import Outbox
    from core.tenancy import cross_tenant

    # Outbox rows are tenants' rows: on PostgreSQL RLS shows them on a declared path only.
    async with cross_tenant("maintenance"):
        return (
            await Outbox.select()
            .where(Outbox.dedupe_key.like(f"{prefix}%"))
            .order_by(Outbox.id)
            .run()
        )


def _data(row: dict) -> dict:
    import json

    p = row["payload"]
    return p if isinstance(p, dict) else json.loads(p)


async def test_daily_items_once_per_shanghai_day_with_usage_figures(client, settings, tenant_a):
    from core import usage
    from tenants.statistics.services import cadence

    cfg = settings.model_copy(update={"upstream_url": "http://127.0.0.1:9"})
    # 10:00 on 15 June in Shanghai is 02:00 UTC: the registrations and resolutions of that day.
    at = datetime(2026, 6, 15, 10, tzinfo=usage.SHANGHAI)
    await usage.record_registrations(tenant_a.id, 3, at=at)
    await usage.record_window(uuid.uuid4().hex, {tenant_a.id: (7, 2)}, hour=at)
    # 23:30 on the 15th in Shanghai: the 15th has not ended, so the 14th is reported.
    await cadence.run(cfg, datetime(2026, 6, 15, 23, 30, tzinfo=usage.SHANGHAI))
    assert not await _rows(f"estats:2026-06-15:{tenant_a.prefix}")

    just_after = datetime(2026, 6, 16, 0, 5, tzinfo=usage.SHANGHAI)  # 16:05 UTC on the 15th
    await cadence.run(cfg, just_after)
    mine = await _rows(f"estats:2026-06-15:{tenant_a.prefix}")
    assert len(mine) == 1 and mine[0]["topic"] == "upstream.enterprise_stats"
    data = _data(mine[0])
    assert (data["registrations"], data["resolutions"], data["successes"]) == (3, 9, 7)
    assert data["registrations_total"] >= 3

    node = await _rows("nstats:2026-06-15")
    assert len(node) == 1
    billed = await usage.node_by_day(datetime(2026, 6, 15).date(), datetime(2026, 6, 15).date())
    day_usage = [d for days in billed.values() for d in days.values()]
    figures = _data(node[0])
    assert figures["registrations"] == sum(u.registrations for u in day_usage)
    assert figures["successes"] == sum(u.resolutions for u in day_usage)
    assert figures["queries"] == sum(u.resolutions + u.not_found for u in day_usage)
    assert len(await _rows("templates:2026-06-15")) == 1

    # The job runs every few minutes: the same day is not enqueued again.
    await cadence.run(cfg, just_after + timedelta(minutes=5))
    await cadence.run(cfg, just_after + timedelta(hours=6))
    assert len(await _rows(f"estats:2026-06-15:{tenant_a.prefix}")) == 1
    assert len(await _rows("nstats:2026-06-15")) == 1
    # The next day is.
    await cadence.run(cfg, just_after + timedelta(days=1))
    assert len(await _rows(f"estats:2026-06-16:{tenant_a.prefix}")) == 1


async def test_enterprise_profile_hourly_and_on_change(client, settings, tenant_a):
    from core import usage
    from tenants.accounts.services.tenants import set_status
    from tenants.statistics.services import cadence

    cfg = settings.model_copy(update={"upstream_url": "http://127.0.0.1:9"})
    start = datetime(2026, 7, 1, 9, 10, tzinfo=usage.SHANGHAI)
    key = f"enterprise:{tenant_a.prefix}:2026-07-01T"
    await cadence.run(cfg, start)
    await cadence.run(cfg, start + timedelta(minutes=30))
    assert len(await _rows(key + "09")) == 1  # once in the hour
    await cadence.run(cfg, start + timedelta(hours=1))
    assert len(await _rows(key + "10")) == 1  # and again the next hour
    await set_status(tenant_a.prefix, "suspended", actor="test", reason="cadence test")
    await cadence.run(cfg, start + timedelta(hours=1, minutes=5))
    tenth = await _rows(key + "10")
    assert len(tenth) == 2 and _data(tenth[-1])["status"] == "suspended"  # on change


async def test_a_self_deployed_enterprise_profile_carries_its_own_servers(
    client, settings, tenant_a, tenant_b
):
    from core import usage
    from tenants.enterprise.services.servers import parse_servers, set_servers
    from tenants.statistics.services import cadence

    cfg = settings.model_copy(update={"upstream_url": "http://127.0.0.1:9"})
    await set_servers(tenant_a.prefix, parse_servers("192.0.2.7:2641,[2001:db8::7]:2641"),
                      actor="test")  # fmt: skip
    await cadence.run(cfg, datetime(2026, 7, 2, 9, 10, tzinfo=usage.SHANGHAI))
    (mine,) = await _rows(f"enterprise:{tenant_a.prefix}:2026-07-02T09")
    routing = _data(mine)["routing"]
    assert routing["deployment"] == "self"
    assert routing["servers"] == ["192.0.2.7:2641", "[2001:db8::7]:2641"]
    (theirs,) = await _rows(f"enterprise:{tenant_b.prefix}:2026-07-02T09")
    assert _data(theirs)["routing"]["deployment"] == "delegated"
    assert _data(theirs)["routing"]["servers"] == []  # B's message names none of A's


async def test_resolution_configuration_is_sent_when_it_changes(client, settings):
    from core import usage
    from tenants.statistics.services import cadence

    port = 20000 + uuid.uuid4().int % 10000
    cfg = settings.model_copy(update={"upstream_url": "http://127.0.0.1:9", "wire_port": port})
    now = datetime(2026, 7, 2, 9, tzinfo=usage.SHANGHAI)
    before = [r for r in await _rows("config:") if _data(r)["ports"]["tcp"] == port]
    await cadence.run(cfg, now)
    await cadence.run(cfg, now + timedelta(minutes=5))
    sent = [r for r in await _rows("config:") if _data(r)["ports"]["tcp"] == port]
    assert len(sent) == len(before) + 1
    assert _data(sent[-1])["prefix"] == cfg.node_prefix
