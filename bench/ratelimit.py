"""Cost of the rate limiter on a cache hit: the same node with and without it.

    python bench/ratelimit.py [--records 20000] [--duration 10] [--connections 50]

Seeds N identifiers in a fresh PostgreSQL database (bench/resolve_http.py's seeding),
then serves them twice with ``idnest serve`` on PostgreSQL and Redis: once with
``IDNEST_RATE_LIMIT_ENABLED=false`` and once with the limiter on and an anonymous limit
too high to refuse anyone (``IDNEST_RATE_LIMIT_ANONYMOUS=100000000/second``), so the
figure is the cost of counting, Redis batches included, not of refusing. wrk loads
``GET /api/handles/{random handle}`` (the fast path) after warm-up. Prints a table and
the ratio; the target is >= 0.90. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from resolve_http import (
    IDNEST,
    PG_ADMIN,
    REDIS,
    WRK_SCRIPT,
    free_port,
    pg_admin,
    run_wrk,
    seed,
    wait_ready,
    warm_up,
)


def measure(env: dict[str, str], work: Path, script: Path, args: argparse.Namespace) -> dict:
    port = free_port()
    proc = subprocess.Popen(
        [IDNEST, "serve", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(args.workers)],
        env=env, cwd=work,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/readyz", proc)
        warm_up(base, script, args)
        return run_wrk(base, script, args.duration, args.connections, args.threads)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    dbname = f"idnest_bench_{uuid.uuid4().hex[:8]}"
    dsn = PG_ADMIN.rsplit("/", 1)[0] + f"/{dbname}"
    work = Path(tempfile.mkdtemp(prefix="idnest-bench-"))

    pg_admin(f'CREATE DATABASE "{dbname}"')
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDNEST_")}
    env.update(
        IDNEST_DATABASE_URL=dsn, IDNEST_REDIS_URL=REDIS, IDNEST_VAR_DIR=str(work / "var"),
        IDNEST_LOG_LEVEL="WARNING",
        IDNEST_RECORD_CACHE_MB=str(max(64, args.records * 3 // 1000)),
        IDNEST_SCHEDULER_ENABLED="false",
    )  # fmt: skip
    results: dict[str, dict] = {}
    try:
        subprocess.run([IDNEST, "migrate"], env=env, check=True, cwd=work)
        handles = asyncio.run(seed(dsn, "9001", args.records))
        (work / "handles.txt").write_text("\n".join(handles) + "\n")
        script = work / "random.lua"
        script.write_text(WRK_SCRIPT % (work / "handles.txt", random.randint(1, 10**6)))
        off = {**env, "IDNEST_RATE_LIMIT_ENABLED": "false"}
        on = {**env, "IDNEST_RATE_LIMIT_ANONYMOUS": "100000000/second"}
        results["without the limiter"] = measure(off, work, script, args)
        results["with the limiter (Redis)"] = measure(on, work, script, args)
    finally:
        pg_admin(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"\nCache-hit resolution with and without rate limits, {args.records:,} records, "
        f"{args.workers} workers, wrk -t{args.threads} -c{args.connections} -d{args.duration}s"
    )
    print(
        f"{'idnest GET /api/handles/{h}':<34}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}"
    )
    for name, r in results.items():
        print(f"{name:<34}{r['rps']:>10.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}{r['non2xx']:>9}")
    ratio = results["with the limiter (Redis)"]["rps"] / results["without the limiter"]["rps"]
    print(f"{'ratio with / without':<34}{ratio:>10.2f}   (target >= 0.90)")
    sys.exit(0)


if __name__ == "__main__":
    main()
