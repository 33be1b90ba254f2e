"""The Dramatiq broker: RabbitMQ or Redis when configured, in-process otherwise.

Durable intent lives in the database (outbox and job rows); the broker only delivers.
So the embedded profile can run jobs on an in-process stub broker and worker, and a
message lost with a crashed process is re-driven from its row, not lost.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import NoReturn

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO

from core.settings import get_settings


def build_broker() -> dramatiq.Broker:
    url = get_settings().broker_url
    broker: dramatiq.Broker
    if url.startswith("amqp"):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        broker = RabbitmqBroker(url=url)
    elif url.startswith(("redis://", "rediss://")):
        from dramatiq.brokers.redis import RedisBroker

        broker = RedisBroker(url=url)
    else:
        broker = StubBroker()
    broker.add_middleware(AsyncIO())
    return broker


broker = build_broker()
dramatiq.set_broker(broker)


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
