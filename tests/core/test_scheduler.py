"""Periodic jobs: however many schedulers check at once, a due job runs once per period;
a redelivered claim runs once; a failure is retried soon; a dead runner's lease runs out."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

pytestmark = pytest.mark.anyio


def _job(calls: list[str], *, every: float = 60.0, fail: bool = False, **kw):
    from core.scheduler import Periodic

    name = f"test-{uuid.uuid4().hex[:10]}"

    async def run(settings) -> str:
        calls.append(name)
        await asyncio.sleep(0.02)  # long enough for a racing scheduler to try its claim
        if fail:
            raise RuntimeError("the disk is full")
        return f"run {len(calls)}"

    return Periodic(name, lambda s: every, run, **kw)


async def _row(name: str) -> dict:
    from core.tables import ScheduledJob

    return await ScheduledJob.select().where(ScheduledJob.name == name).first().run()


async def test_concurrent_schedulers_run_a_due_job_once_per_period(client, settings):
    from core.scheduler import Scheduler

    calls: list[str] = []
    job = _job(calls, every=60)
    schedulers = [Scheduler(settings, [job], owner=f"proc-{n}") for n in range(4)]
    start = datetime.now(UTC)
    for period in range(3):
        now = start + timedelta(seconds=60 * period + 1)
        claimed = await asyncio.gather(*(s.tick(now) for s in schedulers))
        await asyncio.gather(*(s.wait_idle() for s in schedulers))
        assert sum(len(c) for c in claimed) == 1, claimed
        assert len(calls) == period + 1
        # within the same period nobody claims it again
        again = await asyncio.gather(*(s.tick(now + timedelta(seconds=30)) for s in schedulers))
        assert not any(again)
    row = await _row(job.name)
    assert row["runs"] == 3 and row["status"] == "ok" and row["token"] == ""
    assert row["detail"] == "run 3"


async def test_a_redelivered_message_runs_the_job_once(client, settings):
    from core.scheduler import Scheduler, deliver
    from core.tasks import broker

    calls: list[str] = []
    job = _job(calls)
    # With a broker the winner only sends a message; the worker's actor runs it.
    scheduler = Scheduler(settings.model_copy(update={"broker_url": "stub://"}), [job])
    broker.flush_all()
    assert await scheduler.tick() == [job.name]
    assert calls == []  # nothing ran in the scheduler's process
    import dramatiq

    queue = broker.queues["periodic"]
    message = dramatiq.Message.decode(queue.get_nowait())
    queue.task_done()
    assert message.actor_name == "run_periodic" and message.args[0] == job.name
    from core import scheduler as sched

    sched._JOBS[job.name] = job  # the worker knows it by name, as a declared job
    try:
        assert await deliver(*message.args) is True
        assert await deliver(*message.args) is False  # the broker delivers it a second time
    finally:
        del sched._JOBS[job.name]
    assert calls == [job.name]
    assert (await _row(job.name))["runs"] == 1


async def test_a_failed_run_is_retried_after_retry_after_not_a_period(client, settings):
    from core.scheduler import Scheduler

    calls: list[str] = []
    job = _job(calls, every=3600, fail=True, retry_after=120)
    scheduler = Scheduler(settings, [job])
    assert await scheduler.tick() == [job.name]
    await scheduler.wait_idle()
    row = await _row(job.name)
    assert row["status"] == "error" and "the disk is full" in row["detail"]
    now = datetime.now(UTC)
    assert row["due_at"] <= now + timedelta(seconds=121)
    assert await scheduler.tick(now + timedelta(seconds=60)) == []
    assert await scheduler.tick(now + timedelta(seconds=125)) == [job.name]
    await scheduler.wait_idle()
    assert len(calls) == 2


async def test_a_dead_runners_claim_is_taken_over_when_its_lease_runs_out(client, settings):
    from core.scheduler import Scheduler, claim, prepare

    calls: list[str] = []
    job = _job(calls, every=5, lease=20)
    t0 = datetime.now(UTC)
    await prepare([job], settings, t0)
    # a process claims it and dies before running it
    assert await claim(job, 5, "dead-process", t0) is not None
    survivor = Scheduler(settings, [job])
    assert await survivor.tick(t0 + timedelta(seconds=10)) == []  # due, but leased
    assert await survivor.tick(t0 + timedelta(seconds=21)) == [job.name]
    await survivor.wait_idle()
    assert calls == [job.name]


async def test_a_job_is_off_at_zero_and_a_shorter_period_takes_effect(client, settings):
    from core.scheduler import Periodic, Scheduler
    from core.tables import ScheduledJob

    calls: list[str] = []
    job = _job(calls, every=0)
    assert await Scheduler(settings, [job]).tick() == []
    assert calls == []
    # due in a day under an old, longer period; the job now runs hourly
    now = datetime.now(UTC)
    await (
        ScheduledJob.update({ScheduledJob.due_at: now + timedelta(days=1)})
        .where(ScheduledJob.name == job.name)
        .run()
    )
    hourly = Scheduler(settings, [Periodic(job.name, lambda s: 3600, job.run)])
    assert await hourly.tick(now) == []
    assert (await _row(job.name))["due_at"] <= now + timedelta(seconds=3600)
    assert await hourly.tick(now + timedelta(seconds=3601)) == [job.name]
    await hourly.wait_idle()
