"""The miss path alone, in one process: resolutions/s when every request misses.

    python bench/miss_path.py [--records 200000] [--concurrency 200] [--duration 10]

Seeds N identifiers (~600 bytes of values, COPY) in a fresh PostgreSQL database, then
resolves uniformly random handles through ``Resolver.lookup`` with ``concurrency``
tasks, with a cache too small to hold more than a few records, so each is a miss
(tenant look-ups stay cached). Prints misses/s, p50/p99 and database queries per miss.
Run it with another checkout's code first on ``PYTHONPATH`` for a before/after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from resolve_http import PG_ADMIN, pg_admin, seed


async def run(args: argparse.Namespace, dsn: str) -> None:
    handles = await seed(dsn, "9000", args.records)
    from core import db
    from core.bus import InvalidationBus
    from core.settings import get_settings
    from resolver.runtime import build_resolver

    settings = get_settings()
    await db.start(settings)
    resolver = build_resolver(settings, InvalidationBus())
    await resolver.lookup(handles[0])
    latencies: list[float] = []
    done = 0
    stop = time.perf_counter() + args.duration
    rng = random.Random(1)

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            await resolver.lookup(rng.choice(handles))
            latencies.append(time.perf_counter() - t0)
            done += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    took = time.perf_counter() - t0
    lat = sorted(latencies)
    loader = getattr(resolver, "loader", None)
    per = f", {loader.queries / max(1, loader.keys_read):.3f} queries a miss" if loader else ""
    print(
        f"misses/s {done / took:,.0f}; p50 {statistics.median(lat) * 1e3:.2f} ms, "
        f"p99 {lat[int(len(lat) * 0.99)] * 1e3:.2f} ms; hit ratio "
        f"{resolver.cache.hits / max(1, resolver.cache.hits + resolver.cache.misses):.3f}{per}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--concurrency", type=int, default=200)
    ap.add_argument("--duration", type=float, default=10)
    args = ap.parse_args()
    dbname = f"idnest_bench_{uuid.uuid4().hex[:8]}"
    dsn = PG_ADMIN.rsplit("/", 1)[0] + f"/{dbname}"

    pg_admin(f'CREATE DATABASE "{dbname}"')
    os.environ.update(
        IDNEST_DATABASE_URL=dsn, IDNEST_LOG_LEVEL="WARNING", IDNEST_NODE_PREFIX="88.100",
        IDNEST_RECORD_CACHE_MB="0.01", IDNEST_RECORD_CACHE_SIZE="5",
    )  # fmt: skip
    try:
        subprocess.run([str(Path(sys.executable).with_name("idnest")), "migrate"], check=True)
        asyncio.run(run(args, dsn))
    finally:
        pg_admin(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


if __name__ == "__main__":
    main()
