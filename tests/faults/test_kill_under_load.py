"""SIGKILL, one after another, to a serving worker process, Redis, PostgreSQL and the whole
``idnest serve`` while writers keep writing: every write that was acknowledged is present
afterwards and whole, and every one that was not is either absent or whole. The counts are
printed (``pytest -s``) for the operations notes.

(A Dramatiq worker killed mid-job is tests/test_smoke_bulk_worker.py.)"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field

import httpx
import pytest
from fault_support import PrivatePostgres, PrivateRedis, private_node
from smoke_support import IDNEST, free_port

pytestmark = pytest.mark.skipif(
    os.environ.get("IDNEST_TEST_PROFILE", "embedded") != "postgres",
    reason="fault tests run once, on the postgres profile (they start their own services)",
)
WRITERS = 4
VALUES = 3  # every write carries three values: a partial write would show fewer


@dataclass
class Ledger:
    acked: set[str] = field(default_factory=set)
    unacked: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _writer(base: str, key: str, prefix: str, n: int, ledger: Ledger, stop: threading.Event):
    i = 0
    with httpx.Client(timeout=10) as http:
        while not stop.is_set():
            handle = f"{prefix}/L-{n}-{i}"
            i += 1
            body = {"values": [
                {"index": k, "type": "URL", "data": f"https://l.example/{handle}/{k}"}
                for k in range(1, VALUES + 1)]}  # fmt: skip
            try:
                r = http.put(f"{base}/api/handles/{handle}", json=body,
                             headers={"Authorization": f"Bearer {key}"})  # fmt: skip
                ok = r.status_code == 201
            except httpx.HTTPError:
                ok = False
            with ledger.lock:
                (ledger.acked if ok else ledger.unacked).add(handle)
            if not ok:
                time.sleep(0.05)


def _serve(env: dict[str, str], cwd: str, port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [IDNEST, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip


def _wait_ready(base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the node did not become ready")


def _stored(url: str, prefix: str) -> dict[str, int]:
    import asyncpg

    async def run() -> dict[str, int]:
        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch(
                'SELECT handle, "values" FROM identifiers WHERE handle LIKE $1', f"{prefix}/L-%"
            )
        finally:
            await conn.close()
        # The writer's own values (the node adds an HS_ADMIN value of its own).
        return {
            r["handle"]: sum(1 for v in json.loads(r["values"]) if v["type"] == "URL") for r in rows
        }

    return asyncio.run(run())


def test_acknowledged_writes_survive_kills_of_every_part(tmp_path):
    pg, redis = PrivatePostgres(), PrivateRedis()
    serve: subprocess.Popen | None = None
    stop = threading.Event()
    try:
        work = str(tmp_path)
        env, prefix, key = private_node(
            work, "Load Co", database_url=pg.url, redis_url=redis.url, wire_enabled="false"
        )
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        serve = _serve(env, work, port)
        _wait_ready(base)
        ledger = Ledger()
        writers = [
            threading.Thread(target=_writer, args=(base, key, prefix, n, ledger, stop))
            for n in range(WRITERS)
        ]
        for w in writers:
            w.start()
        time.sleep(2)
        children = subprocess.run(["pgrep", "-P", str(serve.pid)], capture_output=True,
                                  text=True).stdout.split()  # fmt: skip
        assert children, "idnest serve --workers 2 has no worker processes"
        os.kill(int(children[0]), signal.SIGKILL)  # one serving worker
        time.sleep(2)
        redis.kill9()
        time.sleep(1)
        redis.start()
        time.sleep(2)
        pg.kill9()
        time.sleep(1)
        pg.start()
        time.sleep(3)
        os.killpg(serve.pid, signal.SIGKILL)  # the whole serve, master and workers
        serve.wait(10)
        serve = _serve(env, work, port)
        _wait_ready(base)
        time.sleep(2)
        stop.set()
        for w in writers:
            w.join(30)

        stored = _stored(pg.url, prefix)
        lost = sorted(h for h in ledger.acked if h not in stored)
        partial = sorted(h for h, n in stored.items() if n != VALUES)
        unacked_present = sum(1 for h in ledger.unacked if h in stored)
        print(
            f"\nkill under load: {len(ledger.acked)} acknowledged, all present: {not lost}; "
            f"{len(ledger.unacked)} not acknowledged, of which {unacked_present} present "
            f"(whole) and {len(ledger.unacked) - unacked_present} absent; partial rows: "
            f"{len(partial)}"
        )
        assert len(ledger.acked) > 100 and ledger.unacked, "the load or the faults did not run"
        assert not lost, f"{len(lost)} acknowledged writes are missing: {lost[:5]}"
        assert not partial, f"partial writes: {partial[:5]}"
        assert not set(stored) - ledger.acked - ledger.unacked  # nothing nobody wrote
    finally:
        stop.set()
        if serve is not None and serve.poll() is None:
            os.killpg(serve.pid, signal.SIGTERM)
            try:
                serve.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(serve.pid, signal.SIGKILL)
        redis.close()
        pg.close()
