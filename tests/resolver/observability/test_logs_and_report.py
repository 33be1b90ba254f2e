"""Resolution logs (bounded, batched, purged), door minutes, and the monthly report's
figures recomputed by hand from the raw probe and minute rows."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta

import pytest

pytestmark = pytest.mark.anyio
JSON = {"Content-Type": "application/json"}


def test_the_log_buffer_is_bounded_and_counts_what_it_drops():
    from resolver.observability.reslog import ResolutionLogBuffer

    buf = ResolutionLogBuffer(capacity=3)
    for i in range(10):
        buf.add(time.time(), "rest", f"88.100.1/{i}", "ok", "10.0.0.1", 0.001)
    assert len(buf.entries) == 3 and buf.dropped == 7
    assert [e[2] for e in buf.take()] == ["88.100.1/0", "88.100.1/1", "88.100.1/2"]
    buf.add(time.time(), "rest", "88.100.1/x", "ok", "10.0.0.1", 0.001)
    assert len(buf.entries) == 1


async def test_every_door_is_logged_and_searchable_then_purged(client, app, tenant_a, settings):
    from resolver.observability import recorder
    from resolver.observability.jobs import purge_resolution_log
    from resolver.observability.reslog import RESOLUTION_LOG
    from resolver.observability.search import search_log

    h = f"{tenant_a.prefix}/LOG-1"
    value = {"index": 1, "type": "URL", "data": "https://example.com/l"}
    r = await client.put(f"/api/handles/{h}", json=[value], headers={**tenant_a.auth(), **JSON})
    assert r.status_code == 201
    RESOLUTION_LOG.take()
    assert (await client.get(f"/api/handles/{h}")).status_code == 200
    assert (await client.get(f"/{h}", follow_redirects=False)).status_code == 302
    assert (await client.get(f"/api/handles/{tenant_a.prefix}/NOPE")).status_code == 404
    await recorder.record_interval()
    rows = await search_log(identifier=h, limit=10)
    assert sorted((r["door"], r["result"]) for r in rows) == [("proxy", "ok"), ("rest", "ok")]
    assert all(r["latency_us"] >= 0 and r["source"] for r in rows)
    missing = await search_log(identifier=f"{tenant_a.prefix}/NOPE", limit=10)
    assert [(r["door"], r["result"]) for r in missing] == [("rest", "not_found")]
    by_source = await search_log(source=rows[0]["source"], limit=2)
    assert len(by_source) == 2  # bounded by the page size
    # Past the retention period, the entries go.
    later = datetime.now(UTC) + timedelta(days=settings.resolution_log_retention_days + 1)
    await purge_resolution_log(settings, now=later)
    assert await search_log(identifier=h, limit=10) == []


async def test_a_batch_of_many_chunks_is_written_whole_and_lets_the_loop_run(app, monkeypatch):
    import asyncio

    from core.tenancy import cross_tenant
    from resolver.observability import recorder
    from resolver.observability.tables import ResolutionLogEntry as Log

    n = recorder.LOG_CHUNK * 3 + 7
    now = time.time()
    entries = [(now, "wire-udp", f"88.100.1/CHUNK-{i}", "ok", "10.9.9.9", 0.0001)
               for i in range(n)]  # fmt: skip
    ticks = 0
    seen: list[int] = []  # the ticker's count each time a chunk is converted
    convert = recorder._log_rows

    def counting(chunk):  # type: ignore[no-untyped-def]
        seen.append(ticks)
        return convert(chunk)

    monkeypatch.setattr(recorder, "_log_rows", counting)

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.get_running_loop().create_task(ticker())
    try:
        assert await recorder.write_log(entries) == n
    finally:
        task.cancel()
    # Converted a chunk at a time, and other tasks (resolutions) ran between chunks.
    assert len(seen) == 4 and all(b > a for a, b in itertools.pairwise(seen))
    async with cross_tenant("maintenance"):
        rows = await Log.select(Log.identifier).where(Log.source == "10.9.9.9").run()
    assert sorted(r["identifier"] for r in rows) == sorted(e[2] for e in entries)


async def _seed(month_start: datetime) -> None:
    from core.tenancy import cross_tenant
    from resolver.observability.tables import DoorMinute, MaintenanceWindow, ProbeResult

    rows = []
    # 10 rounds, 60 s apart; round 3 has a failed wire probe, rounds 7-8 are maintenance.
    for i in range(10):
        at = month_start + timedelta(minutes=i)
        for door in ("rest", "proxy", "wire-udp"):
            ok = not (i == 3 and door == "wire-udp")
            rows.append(ProbeResult(at=at, round_at=at, door=door, family="ipv4", ok=ok,
                                    latency_us=1000 + i, maintenance=i in (7, 8)))  # fmt: skip
    minutes = [
        DoorMinute(minute=month_start, door="rest", requests=100, errors=1,
                   latency_sum_us=50_000, latency_max_us=2_500, latency_min_us=100, peak_qps=9),
        DoorMinute(minute=month_start + timedelta(minutes=1), door="wire-udp", requests=300,
                   latency_sum_us=30_000, latency_max_us=1_000, latency_min_us=50, peak_qps=20),
        DoorMinute(minute=month_start, door="register:rest", requests=10,
                   latency_sum_us=40_000, latency_max_us=10_000, latency_min_us=2_500),
    ]  # fmt: skip
    async with cross_tenant("maintenance", write=True):
        await ProbeResult.delete(force=True).run()
        await DoorMinute.delete(force=True).run()
        await MaintenanceWindow.delete(force=True).run()
        await ProbeResult.insert(*rows).run()
        await DoorMinute.insert(*minutes).run()
        await MaintenanceWindow.insert(MaintenanceWindow(
            starts_at=month_start + timedelta(minutes=7),
            ends_at=month_start + timedelta(minutes=9), reason="upgrade")).run()  # fmt: skip


async def test_report_figures_equal_the_raw_data_recomputed(app, client):
    from resolver.observability.report import as_csv, as_text, build_report, month_bounds

    start, _ = month_bounds("2026-03")
    await _seed(start)
    report = await build_report("2026-03", 60.0, now=start + timedelta(days=40))
    # Recomputed by hand: 10 rounds, 2 in maintenance, 1 of the other 8 down.
    assert (report.probe_rounds, report.maintenance_rounds, report.down_rounds) == (8, 2, 1)
    assert report.availability == pytest.approx(1 - 1 / 8)
    assert report.downtime_minutes == 1.0
    assert report.allowed_downtime_minutes == pytest.approx(31 * 24 * 60 * 0.0001, abs=0.01)
    assert report.resolution.count == 400
    assert report.resolution.avg_ms == pytest.approx((50_000 + 30_000) / 400 / 1000, abs=0.001)
    assert report.resolution.max_ms == 2.5 and report.resolution.min_ms == 0.05
    assert report.registration.avg_ms == pytest.approx(4.0)
    assert report.per_door["rest"].count == 100
    assert [w["reason"] for w in report.maintenance_windows] == ["upgrade"]
    text = as_text(report)
    assert "availability (可用性): 87.5000%" in text
    assert "node,availability,0.875" in as_csv(report)


async def test_registration_effective_time_is_measured_through_the_bus(app, client, settings):
    from resolver.observability.prober import effective_probe

    probe = await effective_probe(settings, 2.0)
    assert probe.ok and probe.door == "effective"
    assert 0 <= probe.latency_us < 2_000_000
