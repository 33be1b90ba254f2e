"""Search latency over one tenant's identifiers in PostgreSQL: p50/p95 per query kind.

    python bench/search.py --rows 200000
    python bench/search.py --rows 1000000      # the issue's target size (loads for minutes)

Creates a throw-away database (``idnest_bench_search``) unless IDNEST_DATABASE_URL is
set, loads rows with one INSERT ... SELECT generate_series (fast; the write path is
measured by bulk_register.py), runs each query kind through the search service as a
developer would, and prints a table. Not a CI gate. Target: p95 < 100 ms at 1,000,000.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ADMIN = os.environ.get("IDNEST_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
DB = "idnest_bench_search"

LOAD = """
INSERT INTO identifiers
  (tenant_id, handle, handle_key, search_text, "values", created_at, updated_at, version)
SELECT {tenant}, '{prefix}/SKU-' || lpad(g::text, 8, '0'), '{prefix}/sku-' || lpad(g::text, 8, '0'),
  '{prefix}/sku-' || lpad(g::text, 8, '0') || E'\n' || 'https://shop.example.com/p/' || g ||
  E'\nlot-' || (g % 997) || E'\nYE3-' || (g % 5000),
  '[{{"index":1,"type":"URL","data":{{"format":"string",' ||
  '"value":"https://shop.example.com/p/' || g ||
  '"}},"ttl":86400,"timestamp":"2026-11-24T00:00:00Z"}},' ||
  '{{"index":2,"type":"NOTE","data":{{"format":"string","value":"lot-' || (g % 997) ||
  '"}},"ttl":86400,"timestamp":"2026-11-24T00:00:00Z","permissions":"1100"}},' ||
  '{{"index":2001,"type":"model","data":{{"format":"string","value":"YE3-' || (g % 5000) ||
  '"}},"ttl":86400,"timestamp":"2026-11-24T00:00:00Z"}}]',
  now() - (g || ' seconds')::interval, now() - (g || ' seconds')::interval, 1
FROM generate_series({start}, {end}) g
"""


async def main(rows: int, repeat: int) -> None:
    import asyncpg

    fresh = "IDNEST_DATABASE_URL" not in os.environ
    if fresh:
        conn = await asyncpg.connect(ADMIN)
        await conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{DB}"')
        await conn.close()
        os.environ["IDNEST_DATABASE_URL"] = ADMIN.rsplit("/", 1)[0] + f"/{DB}"
    os.environ.setdefault("IDNEST_VAR_DIR", tempfile.mkdtemp(prefix="idnest-bench-"))
    os.environ.setdefault("IDNEST_LOG_LEVEL", "WARNING")
    from core import db
    from core.migrate import migrate
    from tenants.accounts.services.apikeys import create_key
    from tenants.accounts.services.tenants import create_tenant
    from tenants.auth import authenticate
    from tenants.identifiers.services.search import Query, search

    await db.start()
    await migrate()
    tenant = await create_tenant(f"Search bench {time.time():.0f}", actor="bench")
    key, _ = await create_key(tenant.prefix, scopes="read,write", actor="bench")
    principal = await authenticate(None, key)
    t0 = time.perf_counter()
    step = 100_000
    for start in range(1, rows + 1, step):
        end = min(rows, start + step - 1)
        await db.engine().run_ddl(
            LOAD.format(tenant=tenant.id, prefix=tenant.prefix, start=start, end=end)
        )
    await db.engine().run_ddl("ANALYZE identifiers")
    # As a finished bulk job does (tenants.identifiers.services.search.merge_pending_index).
    await db.engine().run_ddl("SELECT gin_clean_pending_list('identifiers_search_trgm')")
    load_s = time.perf_counter() - t0
    rnd = random.Random(7)
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    kinds = {
        "suffix substring": lambda: Query(q=f"sku-{rnd.randrange(rows):08d}"[:-2]),
        "value substring (URL)": lambda: Query(value=f"example.com/p/{rnd.randrange(rows)}"),
        "template attribute": lambda: Query(attr=("model", f"YE3-{rnd.randrange(5000)}")),
        "reverse look-up URL=*": lambda: Query(
            type="URL", pattern=f"https://shop.example.com/p/{rnd.randrange(rows)}*"
        ),
        "updated in last hour": lambda: Query(updated_from=hour_ago),
        "first page, no filter": lambda: Query(),
    }
    print(f"{'rows in tenant':<28}{rows:>12,}   (loaded in {load_s:.1f} s)")
    print(f"{'query':<28}{'p50 ms':>12}{'p95 ms':>10}{'hits/page':>11}")
    for name, make in kinds.items():
        times, hits = [], []
        for _ in range(repeat):
            t = time.perf_counter()
            page = await search(principal, make(), limit=50)
            times.append((time.perf_counter() - t) * 1000)
            hits.append(len(page.hits))
        times.sort()
        p95 = times[max(0, int(len(times) * 0.95) - 1)]
        print(
            f"{name:<28}{statistics.median(times):>12.1f}{p95:>10.1f}{statistics.mean(hits):>11.1f}"
        )
    await db.stop()
    if fresh:
        conn = await asyncpg.connect(ADMIN)
        await conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.repeat))
