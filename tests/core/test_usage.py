"""Usage, one source (core/usage.py): creations counted in the write's transaction, flush
windows counted once, hours grouped into Asia/Shanghai days and months."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

pytestmark = pytest.mark.anyio
JSON = {"Content-Type": "application/json"}
URL = [{"index": 1, "type": "URL", "data": "https://example.com/u"}]


async def _month(tenant_id: int):
    from core import usage

    return await usage.tenant_month(tenant_id, usage.month_of(usage.now()))


async def test_only_creations_are_registrations(client, tenant_a):
    h = f"{tenant_a.prefix}/U-1"
    auth = {**tenant_a.auth(), **JSON}
    assert (await client.put(f"/api/handles/{h}", json=URL, headers=auth)).status_code == 201
    refused = await client.put(f"/api/handles/{h}?overwrite=false", json=URL, headers=auth)
    assert refused.status_code == 409
    assert (await client.put(f"/api/handles/{h}", json=URL, headers=auth)).status_code == 200
    assert (await client.delete(f"/api/handles/{h}", headers=tenant_a.auth())).status_code == 200
    assert (await _month(tenant_a.id)).registrations == 1


async def test_a_window_sent_twice_counts_once(client, tenant_a):
    from core import usage

    hour = usage.now()
    await usage.record_window("test-twice:1", {tenant_a.id: (7, 2)}, hour=hour)
    await usage.record_window("test-twice:1", {tenant_a.id: (7, 2)}, hour=hour)
    await usage.record_window("test-twice:2", {tenant_a.id: (1, 0)}, hour=hour)
    got = await _month(tenant_a.id)
    assert (got.resolutions, got.not_found) == (8, 2)


async def test_a_failed_flush_is_resent_as_the_same_window(client, tenant_a, monkeypatch):
    from core import usage
    from resolver.counters import ResolutionCounters

    counters = ResolutionCounters()
    for _ in range(3):
        counters.hit(tenant_a.id)
    real = usage.record_window
    sent: list[str] = []

    async def commit_then_fail(window_id, counts, *, hour):
        sent.append(window_id)
        await real(window_id, counts, hour=hour)
        raise ConnectionError("the commit's answer was lost")

    monkeypatch.setattr(usage, "record_window", commit_then_fail)
    assert await counters.flush() == 0
    monkeypatch.setattr(usage, "record_window", real)
    counters.hit(tenant_a.id)
    assert await counters.flush() == 2  # the old window again, then the new one
    assert (await _month(tenant_a.id)).resolutions == 4


async def test_shanghai_days_and_month_edges(client, tenant_a):
    from core import usage

    # 2026-10-31 16:30 UTC is 2026-11-01 00:30 in Shanghai: November's first day.
    edge = datetime(2026, 10, 31, 16, 30, tzinfo=UTC)
    before = datetime(2026, 10, 31, 15, 59, tzinfo=UTC)  # 23:59 on 31 October there
    await usage.record_window("test-edge:1", {tenant_a.id: (5, 0)}, hour=edge)
    await usage.record_window("test-edge:2", {tenant_a.id: (3, 0)}, hour=before)
    assert (await usage.tenant_month(tenant_a.id, "2026-11")).resolutions == 5
    assert (await usage.tenant_month(tenant_a.id, "2026-10")).resolutions == 3
    days = await usage.tenant_by_day(tenant_a.id, date(2026, 10, 31), date(2026, 11, 1))
    assert {d: u.resolutions for d, u in days.items()} == {
        date(2026, 10, 31): 3,
        date(2026, 11, 1): 5,
    }
    node = await usage.node_month("2026-11")
    assert node[tenant_a.id].resolutions == 5
    assert usage.month_of(edge) == "2026-11" and len(usage.month_days("2026-02")) == 28
    for bad in ("2026-13", "26-01", "2026/01", "２０２６-01"):
        with pytest.raises(ValueError):
            usage.parse_month(bad)
