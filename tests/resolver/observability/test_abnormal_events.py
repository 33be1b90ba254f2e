"""Abnormal events with a controllable clock: raised after the minimum duration, recovered
below half the threshold, no storm on a flap, each enqueued once for the top-level node."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 4, 1, 3, 0, tzinfo=UTC)


def test_decide_needs_the_whole_window_and_recovers_below_half():
    from resolver.observability.events import decide

    assert decide(False, [0.1, 0.1], 0.05, 3, 5) is None  # not long enough yet
    assert decide(False, [0.1, 0.01, 0.1], 0.05, 3, 5) is None  # a flap
    assert decide(False, [0.1, 0.1, None], 0.05, 3, 5) is None  # no data is not bad
    assert decide(False, [0.0, 0.1, 0.1, 0.1], 0.05, 3, 5) == "raise"
    assert decide(True, [0.04] * 5, 0.05, 3, 5) is None  # below threshold, not below half
    assert decide(True, [0.01] * 4, 0.05, 3, 5) is None
    assert decide(True, [0.01] * 5, 0.05, 3, 5) == "recover"


async def _minutes(errors_by_minute: list[int]) -> None:
    from core.tenancy import cross_tenant
    from resolver.observability.tables import AbnormalEvent, DoorMinute

    rows = [
        DoorMinute(minute=T0 + timedelta(minutes=i), door="rest", requests=100, errors=e,
                   latency_sum_us=100 * 1000)
        for i, e in enumerate(errors_by_minute)
    ]  # fmt: skip
    async with cross_tenant("maintenance", write=True):
        await DoorMinute.delete().where(DoorMinute.minute >= T0 - timedelta(hours=1)).run()
        await AbnormalEvent.delete(force=True).run()
        await DoorMinute.insert(*rows).run()


async def _sent() -> list[tuple[str, dict]]:
    from core.tables import Outbox
    from core.tenancy import cross_tenant

    async with cross_tenant("maintenance"):
        rows = await Outbox.select(Outbox.topic, Outbox.payload).where(
            Outbox.topic.is_in(["upstream.abnormal", "upstream.recovered"])
        ).order_by(Outbox.id).run()
    decode = lambda p: json.loads(p) if isinstance(p, str) else p  # noqa: E731
    return [(r["topic"], decode(r["payload"])) for r in rows]


async def test_an_error_burst_raises_once_and_recovers_once(app, client, settings):
    from core.tables import Outbox
    from core.tenancy import cross_tenant
    from resolver.observability.events import check_abnormal

    async with cross_tenant("maintenance", write=True):
        await Outbox.delete().where(Outbox.topic.like("upstream.%")).run()
    # Minutes 0-9: a flap (bad, good, bad, ...), then 10-14 bad, then 15-22 good.
    await _minutes([10, 0] * 5 + [10] * 5 + [0] * 8)
    summaries = []
    for minute in range(1, 24):
        summaries.append(await check_abnormal(settings, T0 + timedelta(minutes=minute)))
    raised = [i + 1 for i, s in enumerate(summaries) if "raise rest error_rate" in s]
    recovered = [i + 1 for i, s in enumerate(summaries) if "recover rest error_rate" in s]
    assert raised == [13]  # minutes 10, 11, 12 all bad: raised at minute 13, not during the flap
    assert recovered == [20]  # minutes 15-19 below half the threshold
    sent = await _sent()
    assert [t for t, _ in sent] == ["upstream.abnormal", "upstream.recovered"]
    assert sent[0][1]["type"] == 2 and sent[0][1]["event_id"] == sent[1][1]["event_id"]
