"""Resident memory of a resolver with a full cache under a long run (issue 18: "RSS stays
flat under a long run at a full cache; show RSS over 10 minutes").

    python bench/rss_soak.py [--rows 300000] [--cache-mb 64] [--minutes 10] [--rate 6000]

1. Loads ``--rows`` identifiers of ~600 bytes by COPY into a fresh PostgreSQL database
   (``scale.load``): several times what ``--cache-mb`` holds, so once the cache is full
   every miss evicts. This is the churn that would show fragmentation or a leak.
2. Starts one ``idnest resolver`` process (UDP and TCP; a private redis-server for
   invalidation) with ``IDNEST_RECORD_CACHE_MB=--cache-mb``.
3. Offers ``--rate`` UDP resolutions/s of uniformly random handles (``udpload``, open
   loop) for ``--minutes``, in passes of ``--sample`` seconds, and after each pass prints
   the process's RSS, the pass's answers/s, p99 and cache hit ratio.
4. Ends with the RSS growth from the end of the first minute (the cache is full by then)
   to the end: flat means within a few per cent.

Not a CI gate; the generator and the server share the machine.
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
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
from resolve_http import cache_counts, free_port, hit_ratio, pg_admin  # noqa: E402
from resolve_wire import build_loadgen, private_redis, stop_sessions, udpload, wait_wire  # noqa: E402
from scale import IDNEST, PG_ADMIN, handle, load, rss_mb  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--cache-mb", type=float, default=64)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--rate", type=int, default=6000, help="UDP requests/s offered")
    ap.add_argument("--sample", type=int, default=30, help="seconds per pass")
    args = ap.parse_args()
    if not shutil.which("redis-server"):
        raise SystemExit("redis-server is needed")
    work = Path(tempfile.mkdtemp(prefix="idnest-soak-"))
    binary = build_loadgen(work)
    dbname = f"idnest_soak_{uuid.uuid4().hex[:8]}"
    dsn = PG_ADMIN.rsplit("/", 1)[0] + f"/{dbname}"
    procs: list[subprocess.Popen[bytes]] = []

    wport = free_port()
    redis_url = private_redis(work, procs)
    metrics = work / "metrics"
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDNEST_")}
    env.update(
        IDNEST_DATABASE_URL=dsn, IDNEST_REDIS_URL=redis_url,
        IDNEST_VAR_DIR=str(work / "var"), IDNEST_METRICS_DIR=str(metrics),
        IDNEST_LOG_LEVEL="WARNING", IDNEST_COUNTER_FLUSH_INTERVAL="1",
        IDNEST_RECORD_CACHE_MB=str(args.cache_mb), IDNEST_WIRE_HOST="127.0.0.1",
        IDNEST_WIRE_PORT=str(wport), IDNEST_WIRE_ADDRESSES="127.0.0.1",
        IDNEST_WIRE_UDP_RATE="0", IDNEST_RATE_LIMIT_WIRE="100000000/second",
        PYTHONPATH=os.environ.get("PYTHONPATH") or str(ROOT),
    )  # fmt: skip
    pg_admin(f'CREATE DATABASE "{dbname}"')
    rows: list[tuple[float, float, dict, float]] = []
    try:
        subprocess.run([IDNEST, "migrate"], env=env, check=True, cwd=work)
        took = asyncio.run(load(dsn, args.rows))
        print(f"loaded {args.rows:,} identifiers by COPY in {took:.0f} s", flush=True)
        names = work / "names.txt"
        rng = random.Random(18)
        names.write_text("\n".join(handle(rng.randrange(args.rows)) for _ in range(1_000_000)))
        wire = subprocess.Popen(
            [IDNEST, "resolver", "--processes", "1"], env=env, cwd=work, start_new_session=True
        )
        procs.append(wire)
        wait_wire(wport, handle(0), wire)
        started = time.monotonic()
        print("| minute | RSS MB | answers/s | p99 ms | lost | hit ratio |")
        print("|---|---|---|---|---|---|")
        while time.monotonic() - started < args.minutes * 60:
            before = cache_counts(metrics)
            u = udpload(binary, names, wport, "-r", str(args.rate), "-t", "2",
                        "-d", str(args.sample))  # fmt: skip
            hit = hit_ratio(metrics, before)
            at = (time.monotonic() - started) / 60
            rss = rss_mb(wire.pid)
            rows.append((at, rss, u, hit))
            print(f"| {at:.1f} | {rss:.0f} | {u['qps']:,} | {u['p99_us'] / 1000:.1f} | "
                  f"{u['lost']} | {hit:.3f} |", flush=True)  # fmt: skip
    finally:
        stop_sessions(procs)
        pg_admin(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)
    full = next((r for r in rows if r[0] >= 1.0), rows[0])
    last = rows[-1]
    growth = (last[1] - full[1]) / full[1] * 100
    print(f"\n{args.rows:,} identifiers, cache {args.cache_mb:.0f} MB, {args.rate:,}/s offered: "
          f"RSS {full[1]:.0f} MB at minute {full[0]:.1f} -> {last[1]:.0f} MB at minute "
          f"{last[0]:.1f} ({growth:+.1f}%); min {min(r[1] for r in rows):.0f}, "
          f"max {max(r[1] for r in rows):.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
