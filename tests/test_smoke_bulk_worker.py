"""A bulk job on real processes: `idnest serve` hands it to a Dramatiq worker over Redis;
the worker's whole process group is SIGKILLed halfway; nobody restarts anything but a
new worker. The periodic re-drive notices that the job's cursor stopped and sends it
again, and the new worker finishes it: every row registered exactly once.

PostgreSQL profile only: the embedded profile has no broker and runs jobs in process
(covered by tests/registry/test_registry_bulk.py)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from node_support import as_node
from smoke_support import free_port

IDNEST = str(Path(sys.executable).with_name("idnest"))
ROWS = 60_000
BAD_EVERY = 1000

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("IDNEST_TEST_PROFILE") != "postgres", reason="needs the Redis broker"
    ),
]


def _env(workdir: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDNEST_")}
    env.update(
        IDNEST_VAR_DIR=os.path.join(workdir, "var"),
        IDNEST_LOG_LEVEL="INFO",
        IDNEST_WIRE_ENABLED="false",
        IDNEST_NODE_PREFIX=os.environ["IDNEST_NODE_PREFIX"],
        IDNEST_DATABASE_URL=os.environ["IDNEST_DATABASE_URL"],
        IDNEST_REDIS_URL=os.environ["IDNEST_REDIS_URL"],
        # A Redis database of its own, so no other run's messages reach this worker.
        IDNEST_BROKER_URL=os.environ["IDNEST_REDIS_URL"].rsplit("/", 1)[0] + "/13",
        IDNEST_SCHEDULER_TICK="0.2",
        IDNEST_BULK_REDRIVE_INTERVAL="1",
        IDNEST_BULK_STALL_SECONDS="3",
        IDNEST_IDEMPOTENCY_PURGE_INTERVAL="0",
    )
    return env


def _upload(prefix: str) -> bytes:
    lines = []
    for i in range(ROWS):
        handle = f"{prefix}/W-{i:06d}" if i % BAD_EVERY else "not a handle"
        values = [{"index": 1, "type": "URL", "data": f"https://e.example/{i}"}]
        lines.append(json.dumps({"handle": handle, "values": values}))
    return ("\n".join(lines) + "\n").encode()


def _start(args: list[str], env: dict[str, str], cwd: str, log: Path) -> subprocess.Popen:
    with open(log, "w") as out:
        # A session of its own: SIGKILL to the group takes Dramatiq's forked workers too,
        # as a crashed machine or container would.
        return subprocess.Popen(
            [IDNEST, *args], env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip


async def _job(http: httpx.AsyncClient, headers: dict[str, str], job_id: str) -> dict:
    return (await http.get(f"/api/bulk/jobs/{job_id}", headers=headers)).json()


async def test_killed_worker_job_is_redriven_and_finished_exactly_once(tmp_workdir, tenant_a):
    import redis

    env = _env(tmp_workdir)
    redis.Redis.from_url(env["IDNEST_BROKER_URL"]).flushdb()
    port = free_port()
    http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60)
    logs = Path(tmp_workdir)
    procs = [_start(["serve", "--host", "127.0.0.1", "--port", str(port)], env, tmp_workdir,
                    logs / "serve.log")]  # fmt: skip
    try:
        first = _start(["worker", "--processes", "1", "--threads", "1"], env, tmp_workdir,
                       logs / "worker-1.log")  # fmt: skip
        procs.append(first)
        for _ in range(300):
            try:
                if (await http.get("/readyz")).status_code == 200:
                    break
            except httpx.HTTPError:
                await asyncio.sleep(0.1)
        headers = tenant_a.auth()
        r = await http.post(
            "/api/bulk/jobs?mode=create", content=_upload(tenant_a.prefix), headers=headers
        )
        assert r.status_code == 202, r.text
        job_id = r.json()["jobId"]
        deadline = time.monotonic() + 120
        while (await _job(http, headers, job_id))["doneRows"] < 4000:
            assert time.monotonic() < deadline, (logs / "worker-1.log").read_text()[-3000:]
            await asyncio.sleep(0.02)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        stopped = await _job(http, headers, job_id)
        assert stopped["status"] == "running" and stopped["doneRows"] < ROWS, stopped
        procs.append(_start(["worker", "--processes", "1", "--threads", "1"], env, tmp_workdir,
                            logs / "worker-2.log"))  # fmt: skip
        # The first worker may die holding the re-drive's own lease (30 s); then the
        # re-drive resumes when that runs out, still before Dramatiq's redelivery (60 s).
        deadline = time.monotonic() + 180
        while (info := await _job(http, headers, job_id))["status"] != "done":
            tails = {p.name: p.read_text(errors="replace")[-2000:] for p in logs.glob("*.log")}
            assert time.monotonic() < deadline, (info, tails)
            await asyncio.sleep(0.2)
    finally:
        await http.aclose()
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    bad = ROWS // BAD_EVERY
    assert (info["doneRows"], info["okRows"], info["failedRows"]) == (ROWS, ROWS - bad, bad)
    from tenants.identifiers.tables import Identifier

    async with as_node():
        rows = await Identifier.select(Identifier.version).where(
            Identifier.tenant_id == tenant_a.id
        )
    assert (len(rows), sum(r["version"] for r in rows)) == (ROWS - bad, ROWS - bad)
    # The re-drive, not Dramatiq's own redelivery (a minute later), brought it back.
    redrives = re.findall(
        r"periodic job bulk-redrive done: (\d+) stalled", (logs / "worker-2.log").read_text()
    )
    assert "1" in redrives, (redrives, (logs / "worker-2.log").read_text()[-3000:])
