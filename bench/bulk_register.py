"""Bulk registration throughput into PostgreSQL: rows/s and the worker's peak memory.

    python bench/bulk_register.py --rows 200000
    python bench/bulk_register.py --rows 1000000      # the issue's target size
    python bench/bulk_register.py --rows 200000 --template   # rows validated by motor@1

It creates a throw-away database (``idnest_bench_bulk``) unless IDNEST_DATABASE_URL is
set, writes an NDJSON file, submits it as a bulk job and runs the job in this process,
as a worker would. Prints a table. Not a CI gate. Target: >= 20,000 identifiers/s
sustained over 1,000,000 rows, worker peak RSS < 300 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ADMIN = os.environ.get("IDNEST_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


def _write_file(path: Path, prefix: str, rows: int, template: bool) -> None:
    with open(path, "w") as fh:
        for i in range(rows):
            values = [
                {"index": 1, "type": "URL", "data": f"https://shop.example.com/p/{i}"},
                {"index": 2, "type": "EMAIL", "data": "ops@example.com"},
            ]
            doc: dict = {"handle": f"{prefix}/SKU-{i:08d}", "values": values}
            if template:  # the seeded industry template for motors (templates_seed.json)
                doc["templateVersion"] = "motor@1"
                values += [
                    {"index": 2000, "type": "name", "data": "三相异步电动机"},
                    {"index": 2001, "type": "model", "data": f"YE3-{i % 5000}"},
                    {"index": 2002, "type": "ratedPower", "data": "7.5"},
                    {"index": 2003, "type": "efficiencyClass", "data": "IE3"},
                ]
            fh.write(json.dumps(doc, ensure_ascii=False) + "\n")


async def _prepare_db(fresh: bool) -> None:
    import asyncpg

    if not fresh:
        return
    conn = await asyncpg.connect(ADMIN)
    try:
        await conn.execute('DROP DATABASE IF EXISTS "idnest_bench_bulk" WITH (FORCE)')
        await conn.execute('CREATE DATABASE "idnest_bench_bulk"')
    finally:
        await conn.close()


def _proc_cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) used so far by local processes; 0 for unreadable ones."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


async def _backend_pids() -> list[int]:
    """The PostgreSQL backends serving the benchmark's database (PostgreSQL is local)."""
    from core import db

    rows = await db.engine().run_ddl(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
    )
    return [r["pid"] for r in rows or []]


async def main(rows: int, chunk: int, template: bool) -> None:
    fresh = "IDNEST_DATABASE_URL" not in os.environ
    await _prepare_db(fresh)
    if fresh:
        os.environ["IDNEST_DATABASE_URL"] = ADMIN.rsplit("/", 1)[0] + "/idnest_bench_bulk"
    work = Path(tempfile.mkdtemp(prefix="idnest-bench-"))
    os.environ.setdefault("IDNEST_VAR_DIR", str(work))
    os.environ.setdefault("IDNEST_LOG_LEVEL", "WARNING")
    from core import db
    from core.migrate import migrate
    from tenants.accounts.services.apikeys import create_key
    from tenants.accounts.services.tenants import create_tenant
    from tenants.auth import authenticate
    from tenants.identifiers.services import bulk

    await db.start()
    await migrate()
    tenant = await create_tenant(f"Bench {time.time():.0f}", actor="bench")
    key, _ = await create_key(tenant.prefix, scopes="read,write", actor="bench")
    principal = await authenticate(None, key)
    assert principal is not None
    path = work / "upload.ndjson"
    t0 = time.perf_counter()
    _write_file(path, tenant.prefix, rows, template)
    size = path.stat().st_size

    async def chunks():
        with open(path, "rb") as fh:
            while block := fh.read(1 << 20):
                yield block

    t1 = time.perf_counter()
    info, _ = await bulk.submit(principal, chunks(), fmt="ndjson", mode="create")
    t2 = time.perf_counter()
    pk = await bulk.job_pk(info.job_id)
    pids = await _backend_pids()
    cpu0, pg0 = time.process_time(), _proc_cpu(pids)
    status = await bulk.process_job(pk, chunk_rows=chunk)
    t3 = time.perf_counter()
    cpu, pg_cpu = time.process_time() - cpu0, _proc_cpu(pids) - pg0
    final = await bulk.get_job(principal, info.job_id)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    await db.stop()
    print(f"{'rows':<28}{rows:>14,}")
    print(f"{'file size (MB)':<28}{size / 1e6:>14.1f}")
    print(f"{'generate file (s)':<28}{t1 - t0:>14.2f}")
    print(f"{'upload + count (s)':<28}{t2 - t1:>14.2f}")
    print(f"{'process job (s)':<28}{t3 - t2:>14.2f}")
    print(f"{'identifiers/s (process)':<28}{rows / (t3 - t2):>14,.0f}")
    print(f"{'worker CPU per row (us)':<28}{cpu / rows * 1e6:>14.1f}")
    print(f"{'PostgreSQL CPU per row (us)':<28}{pg_cpu / rows * 1e6:>14.1f}")
    print(f"{'status / ok / failed':<28}{f'{status} / {final.ok_rows} / {final.failed_rows}':>14}")
    print(f"{'peak RSS of process (MB)':<28}{peak_mb:>14.0f}")
    print(f"{'chunk rows':<28}{chunk:>14,}")
    print(f"{'rows declare a template':<28}{'motor@1' if template else 'no':>14}")
    if fresh:
        import asyncpg

        conn = await asyncpg.connect(ADMIN)
        await conn.execute('DROP DATABASE IF EXISTS "idnest_bench_bulk" WITH (FORCE)')
        await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--chunk", type=int, default=2000)
    parser.add_argument(
        "--template", action="store_true", help="rows declare motor@1 and carry its 4 items"
    )
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.chunk, args.template))
