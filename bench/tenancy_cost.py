"""What the tenant transaction costs: a resolver cache miss and one identifier write.

    python bench/tenancy_cost.py [--n 2000]

Creates a throw-away PostgreSQL database; runs as IDNEST_BENCH_APP_URL's role when set
(the app role, under RLS), else as the admin. Prints the median and p95 in µs of a
resolver look-up whose cache is cleared before each call (prefix map cached, record
read from the database) and of ``put_record`` on one handle. Run it from another tree
(e.g. main before row-level security) for the "before" figures. Not a CI gate.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ADMIN = os.environ.get("IDNEST_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


def _stats(name: str, times: list[float]) -> None:
    times.sort()
    p95 = times[int(len(times) * 0.95) - 1]
    print(f"{name:<34}{statistics.median(times):>10.0f}{p95:>10.0f}")


async def main(n: int) -> None:
    import asyncpg

    db_name = f"idnest_bench_tenancy_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'CREATE DATABASE "{db_name}"')
    await admin.close()
    owner_url = ADMIN.rsplit("/", 1)[0] + f"/{db_name}"
    app = os.environ.get("IDNEST_BENCH_APP_URL")
    os.environ["IDNEST_VAR_DIR"] = tempfile.mkdtemp(prefix="idnest-bench-")
    os.environ["IDNEST_MIGRATION_DATABASE_URL"] = owner_url
    os.environ["IDNEST_DATABASE_URL"] = app.rsplit("/", 1)[0] + f"/{db_name}" if app else owner_url
    os.environ["IDNEST_COUNTER_FLUSH_INTERVAL"] = "3600"
    try:
        await _run(n)
    finally:
        admin = await asyncpg.connect(ADMIN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        await admin.close()


async def _run(n: int) -> None:
    from core import db
    from core.auth import Principal
    from core.migrate import migrate
    from core.settings import get_settings
    from resolver.cache import RecordCache
    from resolver.counters import ResolutionCounters
    from resolver.service import Resolver
    from tenants.accounts.services.tenants import create_tenant
    from tenants.identifiers.services.records import put_record

    await db.start()
    await migrate()
    t = await create_tenant("Bench", actor="bench")
    p = Principal(
        actor="bench", tenant_id=t.id, tenant_prefix=t.prefix, scopes=frozenset({"read", "write"})
    )
    handle = f"{t.prefix}/bench-1"
    await put_record(p, handle, [{"index": 1, "type": "URL", "data": "https://example.com/"}])
    from core.bus import get_bus

    cache = RecordCache(get_bus(), max_size=1000, negative_ttl=5.0, backstop_ttl=None)
    resolver = Resolver(cache, ResolutionCounters(), get_settings())
    await resolver.lookup(handle)  # the prefix map is warm from here on
    misses, writes = [], []
    for _ in range(n):
        cache._records.clear()
        t0 = time.perf_counter()
        await resolver.lookup(handle)
        misses.append((time.perf_counter() - t0) * 1e6)
    for i in range(n // 4):
        body = [{"index": 1, "type": "URL", "data": f"https://example.com/{i}"}]
        t0 = time.perf_counter()
        await put_record(p, handle, body)
        writes.append((time.perf_counter() - t0) * 1e6)
    print(f"{'µs':<34}{'median':>10}{'p95':>10}")
    _stats("resolver miss (record from DB)", misses)
    _stats("put_record, one handle", writes)
    await db.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    asyncio.run(main(parser.parse_args().n))
