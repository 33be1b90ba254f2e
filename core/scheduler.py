"""Periodic jobs without cron: every serving process checks, one runs each period.

A job is declared once, beside the code it runs, in a context's ``jobs.py``; the
composition root (``portal/jobs.py``) imports every such module, in ``idnest serve`` and
in the Dramatiq worker alike::

    @periodic("idempotency-purge", every=lambda s: s.idempotency_purge_interval)
    async def purge_idempotency_keys(settings: Settings) -> str: ...

``every`` is read from the settings on each check; 0 or less turns the job off.

Each ``idnest serve`` process runs a ``Scheduler`` loop that asks every
``IDNEST_SCHEDULER_TICK`` seconds whether a job is due. Who runs it is decided by the
database, where durable intent lives, not by the loop: one row per job
(``core.tables.ScheduledJob``) and compare-and-set updates on it.

1. Claim: ``due_at`` moves one period on and a fresh ``token`` is written, only where
   ``due_at`` has passed and no live lease is held. However many processes try at the
   same moment, one update matches.
2. Dispatch: with ``IDNEST_BROKER_URL`` the winner sends ``run_periodic(name, token)``
   to the Dramatiq workers; in the embedded profile it runs the job in its own loop.
3. Start: ``started_at`` is set only for that token and only once, so a message the
   broker delivers twice runs once.
4. Finish: the outcome is recorded and the token cleared. A failed run is due again
   after ``retry_after`` instead of a whole period; a runner that died leaves a lease
   that runs out, after which the job can be claimed again.

Why no scheduler library: periodiq is one extra process that must be the only one;
dramatiq-crontab is built for Django; APScheduler 3 cannot share a job store between
schedulers, and APScheduler 4, which can, is a pre-release. The loop is a sleep; the
part that matters is the row, and none of them would have given us that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import dramatiq

from core import db
from core.errors import IdnestError
from core.settings import Settings, get_settings
from core.tables import ScheduledJob
from core.tasks import broker  # noqa: F401 - the broker must exist before the actor

log = logging.getLogger("idnest.scheduler")
# A Dramatiq worker imports this module before any table is used.
db.configure()

JobFn = Callable[[Settings], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class Periodic:
    name: str
    every: Callable[[Settings], float]
    run: JobFn
    # Longest run we wait for before another process may take the job over.
    lease: float = 3600.0
    retry_after: float = 300.0
    # When set, the lease is read from the settings instead (``lease`` is ignored).
    lease_setting: Callable[[Settings], float] | None = None

    def lease_for(self, settings: Settings) -> float:
        return self.lease_setting(settings) if self.lease_setting else self.lease


_JOBS: dict[str, Periodic] = {}


def periodic(
    name: str,
    *,
    every: Callable[[Settings], float],
    lease: float = 3600.0,
    retry_after: float = 300.0,
    lease_setting: Callable[[Settings], float] | None = None,
) -> Callable[[JobFn], JobFn]:
    """Register ``fn(settings) -> summary`` to run every ``every(settings)`` seconds."""

    def register(fn: JobFn) -> JobFn:
        _JOBS[name] = Periodic(name, every, fn, lease, retry_after, lease_setting)
        return fn

    return register


def registered() -> list[Periodic]:
    """Every declared job (importing a job module registers its jobs)."""
    return list(_JOBS.values())


_STATE = (ScheduledJob.name, ScheduledJob.due_at, ScheduledJob.token, ScheduledJob.lease_until)


def _looks_due(row: dict[str, Any] | None, now: datetime) -> bool:
    """The claim decides; this only spares it when the answer is plainly no."""
    if row is None or row["due_at"] > now:
        return False
    return not row["token"] or row["lease_until"] is None or row["lease_until"] < now


def _is_free(now: datetime) -> Any:
    return (ScheduledJob.token == "") | (ScheduledJob.lease_until < now)


async def prepare(jobs: list[Periodic], settings: Settings, now: datetime) -> None:
    """Create missing rows (due at once) and pull in a due time that a shortened
    period has left too far ahead."""
    for job in jobs:
        await (
            ScheduledJob.insert(ScheduledJob(name=job.name, due_at=now))
            .on_conflict(target=ScheduledJob.name, action="DO NOTHING")
            .run()
        )
        every = job.every(settings)
        if every > 0:
            latest = now + timedelta(seconds=every)
            await (
                ScheduledJob.update({ScheduledJob.due_at: latest})
                .where((ScheduledJob.name == job.name) & (ScheduledJob.due_at > latest))
                .run()
            )


async def claim(
    job: Periodic, every: float, owner: str, now: datetime, lease: float | None = None
) -> str | None:
    """Take this period's run of ``job``: its token, or None if it is not due or taken."""
    token = uuid.uuid4().hex
    lease = job.lease if lease is None else lease
    rows = await (
        ScheduledJob.update(
            {
                ScheduledJob.due_at: now + timedelta(seconds=every),
                ScheduledJob.token: token,
                ScheduledJob.claimed_by: owner[:128],
                ScheduledJob.lease_until: now + timedelta(seconds=lease),
                ScheduledJob.started_at: None,
            }
        )
        .where((ScheduledJob.name == job.name) & (ScheduledJob.due_at <= now) & _is_free(now))
        .returning(ScheduledJob.id)
        .run()
    )
    return token if rows else None


async def _start(name: str, token: str) -> bool:
    rows = await (
        ScheduledJob.update({ScheduledJob.started_at: datetime.now(UTC)})
        .where(
            (ScheduledJob.name == name)
            & (ScheduledJob.token == token)
            & ScheduledJob.started_at.is_null()
        )
        .returning(ScheduledJob.id)
        .run()
    )
    return bool(rows)


async def _finish(job: Periodic, token: str, ok: bool, detail: str) -> None:
    now = datetime.now(UTC)
    mine = (ScheduledJob.name == job.name) & (ScheduledJob.token == token)
    async with db.write_transaction():
        if not ok:
            soon = now + timedelta(seconds=job.retry_after)
            await (
                ScheduledJob.update({ScheduledJob.due_at: soon})
                .where(mine & (ScheduledJob.due_at > soon))
                .run()
            )
        await (
            ScheduledJob.update(
                {
                    ScheduledJob.token: "",
                    ScheduledJob.lease_until: None,
                    ScheduledJob.finished_at: now,
                    ScheduledJob.status: "ok" if ok else "error",
                    ScheduledJob.detail: detail[:1024],
                    ScheduledJob.runs: ScheduledJob.runs + 1,
                }
            )
            .where(mine)
            .run()
        )


async def run_claimed(job: Periodic, token: str, settings: Settings) -> bool:
    """Run one claimed period of ``job``; False if that claim was already started."""
    if not await _start(job.name, token):
        log.info("periodic job %s: claim %s was already started; skipped", job.name, token)
        return False
    try:
        detail = await job.run(settings) or ""
    except asyncio.CancelledError:
        log.warning("periodic job %s interrupted by shutdown; it is retried", job.name)
        await asyncio.shield(_finish(job, token, False, "interrupted by shutdown"))
        raise
    except IdnestError as exc:
        log.warning("periodic job %s failed: %s", job.name, exc.detail)
        await _finish(job, token, False, exc.detail)
    except Exception as exc:
        log.exception("periodic job %s failed", job.name)
        await _finish(job, token, False, f"{type(exc).__name__}: {exc}")
    else:
        log.info("periodic job %s done: %s", job.name, detail)
        await _finish(job, token, True, detail)
    return True


async def deliver(name: str, token: str) -> bool:
    """What a worker does with a ``run_periodic`` message."""
    job = _JOBS.get(name)
    if job is None:
        log.error("periodic job %s is not declared in this worker", name)
        return False
    return await run_claimed(job, token, get_settings())


# No Dramatiq retries: a failed run is recorded and claimed again after retry_after.
@dramatiq.actor(queue_name="periodic", max_retries=0)
async def run_periodic(name: str, token: str) -> None:
    await deliver(name, token)


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "-"


async def status(settings: Settings | None = None) -> list[dict[str, str]]:
    """One entry per declared job: its period, next due time, and last outcome."""
    settings = settings or get_settings()
    rows = {r["name"]: r for r in await ScheduledJob.select().run()}
    out = []
    for job in registered():
        row = rows.get(job.name) or {}
        every = job.every(settings)
        running = bool(row.get("token")) and row.get("started_at") is not None
        out.append(
            {
                "name": job.name,
                "every": f"{every:g}s" if every > 0 else "off",
                "due": _when(row.get("due_at")),
                "state": "running" if running else (row.get("status") or "never run"),
                "finished": _when(row.get("finished_at")),
                "detail": row.get("detail") or "",
            }
        )
    return out


class Scheduler:
    """The due-check loop of one process. ``tick`` is one check (tests call it)."""

    def __init__(
        self,
        settings: Settings | None = None,
        jobs: list[Periodic] | None = None,
        *,
        owner: str | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.jobs = jobs
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._prepared = False
        self._loop: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[bool]] = set()

    async def tick(self, now: datetime | None = None) -> list[str]:
        """Claim and dispatch every job that is due; the names claimed."""
        now = now or datetime.now(UTC)
        if self.jobs is None:
            self.jobs = registered()
        if not self._prepared:
            await prepare(self.jobs, self.settings, now)
            self._prepared = True
        # A read first: most checks find nothing due, and should not queue behind a
        # writer (SQLite has one) just to learn that.
        rows = {r["name"]: r for r in await ScheduledJob.select(*_STATE).run()}
        claimed = []
        for job in self.jobs:
            every = job.every(self.settings)
            if every <= 0 or not _looks_due(rows.get(job.name), now):
                continue
            token = await claim(job, every, self.owner, now, job.lease_for(self.settings))
            if token is not None:
                self._dispatch(job, token)
                claimed.append(job.name)
        return claimed

    def _dispatch(self, job: Periodic, token: str) -> None:
        if self.settings.broker_url:
            limit = int(job.lease_for(self.settings) * 1000)
            run_periodic.send_with_options(args=(job.name, token), time_limit=limit)
            return
        task = asyncio.get_running_loop().create_task(run_claimed(job, token, self.settings))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _forever(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception(
                    "scheduler: due check failed; next check in %ss", self.settings.scheduler_tick
                )
            await asyncio.sleep(self.settings.scheduler_tick)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop().create_task(self._forever())

    async def wait_idle(self) -> None:
        """Wait for the runs this process started (tests, shutdown)."""
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)

    async def stop(self) -> None:
        """Stop checking; interrupt runs in progress (each records it and is retried)."""
        tasks: list[asyncio.Task[Any]] = [*self._running]
        if self._loop is not None:
            tasks.append(self._loop)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
