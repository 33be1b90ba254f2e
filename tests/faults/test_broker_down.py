"""The broker goes away (a private Redis as Dramatiq's broker, killed): a bulk job and an
export are still accepted (their rows are the intent), wait while it is away, and finish
once it is back, through the re-drive; nothing accepted is lost.

RabbitMQ is not exercised here: the machine's broker is shared, and the code path (send
fails, the row waits for the re-drive) is the same for both brokers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import httpx
import pytest
from fault_support import PrivatePostgres, PrivateRedis, private_node
from smoke_support import IDNEST, free_port

pytestmark = pytest.mark.skipif(
    os.environ.get("IDNEST_TEST_PROFILE", "embedded") != "postgres",
    reason="fault tests run once, on the postgres profile (they start their own services)",
)
ROWS = 200


def _start(args: list[str], env: dict[str, str], cwd: str) -> subprocess.Popen:
    return subprocess.Popen(
        [IDNEST, *args], env=env, cwd=cwd, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


def test_jobs_accepted_while_the_broker_is_down_finish_when_it_is_back(tmp_path):
    pg, bus, broker = PrivatePostgres(), PrivateRedis(), PrivateRedis()
    procs: list[subprocess.Popen] = []
    try:
        work = str(tmp_path)
        env, prefix, key = private_node(
            work, "Queue Co", database_url=pg.url, redis_url=bus.url, broker_url=broker.url,
            wire_enabled="false", scheduler_tick="0.2", bulk_redrive_interval="1",
            bulk_stall_seconds="2", export_stall_seconds="2",
        )  # fmt: skip
        auth = {"Authorization": f"Bearer {key}"}
        port = free_port()
        procs.append(_start(["serve", "--host", "127.0.0.1", "--port", str(port)], env, work))
        procs.append(_start(["worker", "--processes", "1", "--threads", "2"], env, work))
        http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        for _ in range(300):
            try:
                if http.get("/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)

        broker.kill9()
        rows = "\n".join(
            json.dumps({"handle": f"{prefix}/Q-{i}", "values": [
                {"index": 1, "type": "URL", "data": f"https://q.example/{i}"}]})
            for i in range(ROWS)
        )  # fmt: skip
        bulk = http.post("/api/bulk/jobs?mode=create", content=rows.encode(), headers=auth)
        assert bulk.status_code == 202, bulk.text
        export = http.post("/api/exports", headers=auth)
        assert export.status_code == 202, export.text
        time.sleep(3)  # past the stall time: the re-drive tries, and cannot send either
        job = http.get(f"/api/bulk/jobs/{bulk.json()['jobId']}", headers=auth).json()
        assert job["status"] != "done" and job["doneRows"] == 0, job

        broker.start()  # same port: the node and the worker reconnect by themselves
        deadline = time.monotonic() + 120
        while True:
            job = http.get(f"/api/bulk/jobs/{bulk.json()['jobId']}", headers=auth).json()
            exp = http.get(f"/api/exports/{export.json()['id']}", headers=auth).json()
            if job["status"] == "done" and exp["status"] == "done":
                break
            assert time.monotonic() < deadline, (job, exp)
            time.sleep(0.5)
        assert (job["okRows"], job["failedRows"]) == (ROWS, 0)
        assert http.get(f"/api/handles/{prefix}/Q-{ROWS - 1}").status_code == 200
        http.close()
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        broker.close()
        bus.close()
        pg.close()
