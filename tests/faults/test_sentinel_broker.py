"""The Dramatiq broker through Redis Sentinel (IDNEST_BROKER_URL=redis+sentinel://):
jobs are sent to the master Sentinel names, and after a SIGKILL of that master the next
sends reach the new one without a restart. A send that fails in between is not a lost
job: core.tasks.send reports it and the job's row is re-driven (tests/faults/
test_broker_down.py)."""

from __future__ import annotations

import os
import time

import dramatiq
import pytest
import redis
from sentinel_support import SentinelRedis

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("IDNEST_TEST_PROFILE", "embedded") != "postgres",
        reason="fault tests run once, on the postgres profile (they start their own services)",
    ),
]


def _queued(port: int) -> int:
    return int(redis.Redis(port=port, socket_timeout=2).llen("dramatiq:default"))


def test_jobs_reach_the_master_sentinel_names_before_and_after_a_failover(settings):
    from core import tasks

    cluster = SentinelRedis()
    try:
        cfg = settings.model_copy(update={
            "broker_url": tasks.SENTINEL_BROKER, "redis_sentinels": cluster.sentinels,
        })  # fmt: skip
        broker = tasks.build_broker(cfg)

        @dramatiq.actor(broker=broker, queue_name="default")
        def sentinel_probe(n: int) -> None:  # never run here: only sent
            pass

        old = cluster.master()
        sentinel_probe.send(1)
        assert _queued(old) == 1
        cluster.kill9(old)
        new = cluster.wait_failover(old)
        deadline, sent = time.monotonic() + 20, False
        while not sent and time.monotonic() < deadline:
            sent = tasks.send(sentinel_probe, 2)  # False while the old master is gone
            if not sent:
                time.sleep(0.2)
        assert sent, "no send reached the new master within 20 s of the failover"
        assert _queued(new) >= 1  # the message is on the master Sentinel now names
    finally:
        cluster.close()


def test_a_sentinel_broker_without_sentinels_is_refused(settings):
    from core import tasks

    cfg = settings.model_copy(update={"broker_url": tasks.SENTINEL_BROKER, "redis_sentinels": ""})
    with pytest.raises(ValueError, match="IDNEST_REDIS_SENTINELS"):
        tasks.build_broker(cfg)
