"""Registration effective time under load: a write's new value seen by another process.

    python bench/registration_load.py [--records 20000] [--writes 1000] [--samples 300]
                                      [--server hypercorn|granian]

1. Seeds N identifiers in a fresh PostgreSQL database (``resolve_http.seed``) and starts
   ``idnest serve --workers 2`` with Redis for invalidation.
2. Runs, together: wrk saturating ``GET /api/handles/{random seeded handle}``; a writer
   offering ``--writes`` PUTs per second (paced, 64 in flight) over 2,000 handles of
   its own; and the probe: PUT a new value to a handle that some worker has cached,
   then read it on fresh connections (SO_REUSEPORT spreads them over both workers) until
   the new value shows. The time from the PUT's answer to that read is the effective
   time; a first read that is still old is a stale read.
3. Prints the achieved write rate, the resolution rate, and the effective time's p50,
   p99 and max (issue 18 target: p99 <= 10 ms), with the stale-read count.

Not a test and not a CI gate: the load, the writers and the server share two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench")]
from resolve_http import (  # noqa: E402
    IDNEST,
    PG_ADMIN,
    REDIS,
    WRK_SCRIPT,
    free_port,
    registration_figures,
    seed,
    wait_ready,
)  # fmt: skip


def writer(base: str, key: str, prefix: str, rate: float, stop: threading.Event,
           done: list[int]) -> None:  # fmt: skip
    async def run() -> None:
        headers = {"Authorization": f"Bearer {key}"}
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits) as c:
            sem = asyncio.Semaphore(64)
            n = 0

            async def one(i: int) -> None:
                try:
                    body = [{"index": 1, "type": "URL", "data": f"w{i}"}]
                    r = await c.put(f"/api/handles/{prefix}/W-{i % 2000}", json=body)
                    if r.status_code in (200, 201):
                        done[0] += 1
                    else:
                        done[1] += 1
                finally:
                    sem.release()

            start = time.perf_counter()
            tasks = set()
            while not stop.is_set():
                due = start + n / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                await sem.acquire()
                t = asyncio.create_task(one(n))
                tasks.add(t)
                t.add_done_callback(tasks.discard)
                n += 1
            await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(run())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--writes", type=float, default=1000)
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--server", choices=("hypercorn", "granian"), default="hypercorn")
    args = ap.parse_args()
    dbname = f"idnest_bench_reg_{uuid.uuid4().hex[:8]}"
    dsn = PG_ADMIN.rsplit("/", 1)[0] + f"/{dbname}"
    work = Path(tempfile.mkdtemp(prefix="idnest-bench-reg-"))

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{dbname}"'))
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDNEST_")}
    env.update(
        IDNEST_DATABASE_URL=dsn, IDNEST_REDIS_URL=REDIS, IDNEST_VAR_DIR=str(work / "var"),
        IDNEST_LOG_LEVEL="WARNING", IDNEST_RATE_LIMIT_ANONYMOUS="100000000/second",
        IDNEST_RATE_LIMIT_KEY="100000000/second",
    )  # fmt: skip
    procs: list[subprocess.Popen[bytes]] = []
    try:
        subprocess.run([IDNEST, "migrate"], env=env, check=True, cwd=work)
        handles = asyncio.run(seed(dsn, "9100", args.records))
        (work / "handles.txt").write_text("\n".join(handles) + "\n")
        script = work / "random.lua"
        script.write_text(WRK_SCRIPT % (work / "handles.txt", random.randint(1, 10**6)))
        port = free_port()
        ours = subprocess.Popen(
            [IDNEST, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
             "--server", args.server], env=env, cwd=work,
        )  # fmt: skip
        procs.append(ours)
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/readyz", ours)
        cli = lambda *a: subprocess.run(  # noqa: E731
            [IDNEST, *a], env=env, cwd=work, capture_output=True, text=True, check=True
        ).stdout.strip()
        prefix = cli("tenant", "create", "--name", "Reg Load")
        key = cli("apikey", "create", "--tenant", prefix, "--scopes", "read,write")
        subprocess.run(
            ["wrk", "-t2", f"-c{args.connections}", "-d20s", "-s", str(script), base],
            capture_output=True,
            check=True,
        )  # fmt: skip  (warm)
        wrk = subprocess.Popen(
            ["wrk", "-t2", f"-c{args.connections}", "-d40s", "-s", str(script), base],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        procs.append(wrk)  # type: ignore[arg-type]
        stop, done = threading.Event(), [0, 0]
        w = threading.Thread(target=writer, args=(base, key, prefix, args.writes, stop, done))
        t0 = time.perf_counter()
        w.start()
        time.sleep(2)
        reg = registration_figures(base, key, prefix, args.samples, keep=True)
        stop.set()
        w.join()
        elapsed = time.perf_counter() - t0
        wrk_out = wrk.communicate(timeout=120)[0]  # the probes end well within its 40 s
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
        shutil.rmtree(work, ignore_errors=True)
    vis = sorted(reg["visible_ms"])
    print(f"\nRegistration under load ({args.server}, 2 workers, {args.records:,} records)")
    print(f"writes offered {args.writes:.0f}/s, achieved {done[0] / elapsed:.0f}/s "
          f"({done[1]} refused) over {elapsed:.0f} s")  # fmt: skip
    rps = next((ln.split()[-1] for ln in wrk_out.splitlines() if "Requests/sec" in ln), "-")
    print(f"resolutions meanwhile (wrk -c{args.connections}, 40 s): {rps} req/s")
    print(f"effective time over {len(vis)} probes: p50 {statistics.median(vis):.2f} ms, "
          f"p99 {statistics.quantiles(vis, n=100)[98]:.2f} ms, max {vis[-1]:.2f} ms; "
          f"first read already fresh {reg['first_read_fresh']}")  # fmt: skip


if __name__ == "__main__":
    main()
