"""The Dramatiq broker: RabbitMQ or Redis when configured, in-process otherwise.

Durable intent lives in the database (outbox and job rows); the broker only delivers.
So the embedded profile can run jobs on an in-process stub broker and worker, and a
message lost with a crashed process is re-driven from its row, not lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import NoReturn

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO

from core.settings import Settings, get_settings

log = logging.getLogger("idnest.tasks")


# IDNEST_BROKER_URL naming "the master of IDNEST_REDIS_SENTINELS" (there is no URL form
# for Sentinel that Dramatiq reads; redis-py's Sentinel client is handed to it instead).
SENTINEL_BROKER = "redis+sentinel://"


def build_broker(settings: Settings | None = None) -> dramatiq.Broker:
    settings = settings or get_settings()
    url = settings.broker_url
    broker: dramatiq.Broker
    if url.startswith("amqp"):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        broker = RabbitmqBroker(url=url)
    elif url.startswith(SENTINEL_BROKER):
        from dramatiq.brokers.redis import RedisBroker

        from core import redisconn

        if not settings.redis_sentinels:
            raise ValueError(f"IDNEST_BROKER_URL={url} needs IDNEST_REDIS_SENTINELS")
        broker = RedisBroker(client=redisconn.sync_client(settings))
    elif url.startswith(("redis://", "rediss://")):
        from dramatiq.brokers.redis import RedisBroker

        broker = RedisBroker(url=url)
    else:
        broker = StubBroker()
    broker.add_middleware(AsyncIO())
    return broker


broker = build_broker()
dramatiq.set_broker(broker)


def send(actor: dramatiq.Actor[[int], None], job_pk: int) -> bool:
    """Hand a job whose row is committed to the broker; False if the broker cannot be
    reached. The job is not lost then: its row is the intent, and the job's re-drive
    sends it again once the broker answers (so an accepted job waits, then finishes)."""
    try:
        actor.send(job_pk)
    except Exception as exc:  # every broker failure means "not sent yet"
        log.warning("broker unreachable; %s %s waits for its re-drive: %r", actor.actor_name,
                    job_pk, exc)  # fmt: skip
        return False
    return True


def run_worker(modules: Sequence[str], *, processes: int, threads: int) -> NoReturn:
    """Become the Dramatiq CLI worker over the job modules the composition root names.

    The process is replaced rather than forked, so that a SIGTERM sent to ``idnest
    worker`` (by a service manager or a test) reaches Dramatiq itself, which stops its
    worker processes; a child would be left running after its parent was gone.
    """
    cmd = [
        sys.executable,
        "-m",
        "dramatiq",
        "core.tasks",
        *modules,
        "--processes",
        str(processes),
        "--threads",
        str(threads),
    ]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, cmd)  # noqa: S606 - fixed argv, no shell


class InProcessJobs:
    """Jobs run as tasks of this process, for the embedded profile (no broker).

    ``run(pk)`` is the job's whole work; its durable row is the intent, so a task that
    fails, or is cancelled at shutdown, is only logged: the job's own re-drive (start-up
    resume, periodic) runs it again.
    """

    def __init__(self, run: Callable[[int], Awaitable[object]], failed: str) -> None:
        self._run, self._failed = run, failed
        self._tasks: set[asyncio.Task[None]] = set()

    async def _guarded(self, pk: int) -> None:
        try:
            await self._run(pk)
        except Exception:
            logging.getLogger("idnest.jobs").exception(self._failed, pk)

    def start(self, pk: int) -> None:
        task = asyncio.get_running_loop().create_task(self._guarded(pk))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        """At shutdown: cancel the running jobs; each is run again from its row."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def wait(self) -> None:
        """Tests and the CLI: until every job started here has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
