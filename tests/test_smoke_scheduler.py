"""Periodic jobs across real processes: two `idnest serve` commands (in the postgres
profile one of them with two Hypercorn workers, plus a Dramatiq worker on Redis) run
the idempotency purge once per period between them, not once per process."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from smoke_support import free_port

IDNEST = str(Path(sys.executable).with_name("idnest"))
POSTGRES = os.environ.get("IDNEST_TEST_PROFILE") == "postgres"
PERIOD = 1.0
WINDOW = 6.0
# One log line per run, whatever its outcome ("skipped" duplicates are not runs).
MARK = re.compile(r"periodic job idempotency-purge (done|failed|interrupted)")

pytestmark = pytest.mark.slow


def _env(workdir: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDNEST_")}
    env.update(
        IDNEST_VAR_DIR=os.path.join(workdir, "var"),
        IDNEST_LOG_LEVEL="INFO",
        IDNEST_WIRE_ENABLED="false",
        IDNEST_SCHEDULER_TICK="0.2",
        IDNEST_IDEMPOTENCY_PURGE_INTERVAL=str(PERIOD),
    )
    if POSTGRES:
        env["IDNEST_DATABASE_URL"] = os.environ["IDNEST_DATABASE_URL"]
        env["IDNEST_REDIS_URL"] = os.environ["IDNEST_REDIS_URL"]
        # A Redis database of its own, so no other run's messages reach this worker.
        env["IDNEST_BROKER_URL"] = os.environ["IDNEST_REDIS_URL"].rsplit("/", 1)[0] + "/14"
    return env


def _runs(env: dict[str, str]) -> int:
    async def read() -> int:
        from core.tables import ScheduledJob

        row = await (
            ScheduledJob.select(ScheduledJob.runs)
            .where(ScheduledJob.name == "idempotency-purge")
            .first()
            .run()
        )
        return row["runs"] if row else 0

    if POSTGRES:
        return asyncio.run(read())
    import sqlite3

    path = os.path.join(env["IDNEST_VAR_DIR"], "idnest.sqlite3")
    with sqlite3.connect(path) as conn:
        row = conn.execute(
            "SELECT runs FROM scheduled_jobs WHERE name = 'idempotency-purge'"
        ).fetchone()
    return row[0] if row else 0


def _wait_ready(port: int, proc: subprocess.Popen) -> None:
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, "idnest serve exited"
        time.sleep(0.2)
    raise RuntimeError("idnest serve did not become ready")


def test_serve_processes_share_one_run_per_period(tmp_workdir):
    env = _env(tmp_workdir)
    if POSTGRES:
        import redis

        redis.Redis.from_url(env["IDNEST_BROKER_URL"]).flushdb()
    subprocess.run([IDNEST, "migrate"], env=env, cwd=tmp_workdir, check=True, timeout=120)
    before = _runs(env)
    logs: dict[str, Path] = {}
    procs: list[subprocess.Popen] = []
    ports = [free_port(), free_port()]

    def start(name: str, *args: str) -> subprocess.Popen:
        logs[name] = Path(tmp_workdir) / f"{name}.log"
        with open(logs[name], "w") as out:
            proc = subprocess.Popen(
                [IDNEST, *args], env=env, cwd=tmp_workdir, stdout=out, stderr=subprocess.STDOUT
            )
        procs.append(proc)
        return proc

    try:
        first = start("serve-a", "serve", "--host", "127.0.0.1", "--port", str(ports[0]),
                      "--workers", "2" if POSTGRES else "1")  # fmt: skip
        second = start("serve-b", "serve", "--host", "127.0.0.1", "--port", str(ports[1]))
        if POSTGRES:
            start("worker", "worker", "--threads", "2")
        _wait_ready(ports[0], first)
        _wait_ready(ports[1], second)
        started = _runs(env)
        time.sleep(WINDOW)
        during = _runs(env) - started
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    ran = {name: len(MARK.findall(path.read_text(errors="replace"))) for name, path in logs.items()}
    # Three or four processes check every 0.2 s; one run per period between them.
    tails = {name: path.read_text(errors="replace")[-3000:] for name, path in logs.items()}
    assert 2 <= during <= WINDOW / PERIOD + 2, (during, ran, tails)
    assert sum(ran.values()) == _runs(env) - before, ran
    if POSTGRES:
        assert ran["serve-a"] == ran["serve-b"] == 0 and ran["worker"] >= 2, ran
    listing = subprocess.run(
        [IDNEST, "schedule"], env=env, cwd=tmp_workdir, capture_output=True, text=True,
        timeout=60, check=True,
    ).stdout.splitlines()  # fmt: skip
    purge = next(line.split("\t") for line in listing if line.startswith("idempotency-purge"))
    # the last run may have been cut short by the shutdown: then it says so
    assert purge[1] == "1s" and purge[4] != "-", purge
    assert (purge[3], "purged" in purge[5]) in {("ok", True), ("error", False)}, purge
    assert any(line.startswith("template-sync\toff\t") for line in listing), listing
