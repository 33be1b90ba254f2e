"""Tenant export and import throughput, and the exporting process's peak memory.

    python bench/export.py                   # 1,000,000 identifiers (the issue's size)
    python bench/export.py --rows 100000     # a quick run
    python bench/export.py --postgres        # on a throw-away PostgreSQL database

Seeds one tenant with N identifiers (two values each), then runs ``idnest export`` and
``idnest import`` as their own processes, as a user would (with this checkout's code first on
PYTHONPATH, whatever the venv's editable install points at), so that the peak RSS printed
is the exporting process's alone (``getrusage(RUSAGE_CHILDREN)`` after each). The import
goes into a second, empty node (its own SQLite file, or a second database). Prints a
table. Not a CI gate. Targets: export >= 50,000 identifiers/s with peak RSS < 250 MB;
import >= 20,000 identifiers/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
IDNEST = str(Path(sys.executable).with_name("idnest"))
ADMIN = os.environ.get("IDNEST_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


async def _databases(names: list[str]) -> None:
    import asyncpg

    conn = await asyncpg.connect(ADMIN)
    try:
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _seed(rows: int) -> str:
    from core import db
    from core.migrate import migrate
    from core.tenancy import tenant_transaction
    from tenants.accounts.services.tenants import create_tenant
    from tenants.identifiers.tables import Identifier

    await db.start()
    await migrate()
    tenant = await create_tenant("Bench Pumps", actor="bench")
    now = datetime.now(UTC)
    # 2,000 rows a statement: asyncpg takes at most 32,767 parameters (15 columns a row).
    for start in range(0, rows, 2000):
        batch = []
        for i in range(start, min(rows, start + 2000)):
            handle = f"{tenant.prefix}/SKU-{i:08d}"
            stamp = {"ttl": 86400, "timestamp": "2026-12-01T00:00:00Z"}
            url = {"format": "string", "value": f"https://shop.example.com/p/{i}"}
            email = {"format": "string", "value": "ops@example.com"}
            values = [
                {"index": 1, "type": "URL", "data": url, **stamp, "permissions": "1110"},
                {"index": 2, "type": "EMAIL", "data": email, **stamp, "permissions": "1100"},
            ]
            batch.append(
                Identifier(
                    tenant_id=tenant.id,
                    handle=handle,
                    handle_key=handle.lower(),
                    values=json.dumps(values),
                    search_text=handle.lower(),
                    created_at=now,
                    updated_at=now,
                )
            )
        async with tenant_transaction(tenant.id):
            await Identifier.insert(*batch).run()
    if isinstance(db.engine(), db.PostgresEngine):
        # Autovacuum is off on this machine (docs/registry.md); a node's would have
        # analysed a freshly loaded table. Without statistics PostgreSQL reads each
        # export page through the tenant index and sorts it (5,000 ids/s).
        await db.engine().run_ddl("ANALYZE identifiers")
    await db.stop()
    return tenant.prefix


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Seconds and this child's own peak RSS (kB, from wait4) of one command."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed with {proc.returncode}")
    return elapsed, usage.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="idnest-bench-export-"))
    base = {k: v for k, v in os.environ.items() if not k.startswith("IDNEST_")}
    base.update(IDNEST_LOG_LEVEL="WARNING", IDNEST_SECRET_KEY="bench-export-secret")
    base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), base.get("PYTHONPATH")]))
    source = {**base, "IDNEST_VAR_DIR": str(work / "a")}
    target = {**base, "IDNEST_VAR_DIR": str(work / "b")}
    if args.postgres:
        asyncio.run(_databases(["idnest_bench_export_a", "idnest_bench_export_b"]))
        root = ADMIN.rsplit("/", 1)[0]
        source["IDNEST_DATABASE_URL"] = f"{root}/idnest_bench_export_a"
        target["IDNEST_DATABASE_URL"] = f"{root}/idnest_bench_export_b"
    os.environ.update(source)
    started = time.perf_counter()
    prefix = asyncio.run(_seed(args.rows))
    seeded = time.perf_counter() - started
    archive = work / "tenant.tar.gz"
    quiet = ["--log-level", "WARNING"]
    t_export, rss_export = _timed(
        [IDNEST, *quiet, "export", "--tenant", prefix, "--out", str(archive)], source
    )
    t_verify, _ = _timed([IDNEST, *quiet, "archive", "verify", str(archive)], source)
    t_import, rss_import = _timed([IDNEST, *quiet, "import", str(archive)], target)
    load = os.getloadavg()
    n = args.rows
    print(f"profile {'postgres' if args.postgres else 'embedded (SQLite)'}; {n:,} identifiers "
          f"seeded in {seeded:.1f} s; archive {archive.stat().st_size / 1e6:.1f} MB; "
          f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")  # fmt: skip
    print(f"{'step':<10}{'seconds':>10}{'ids/s':>12}{'peak RSS MB':>14}{'target':>30}")
    rows = [
        ("export", t_export, rss_export, ">= 50,000/s, RSS < 250 MB"),
        ("verify", t_verify, 0, ""),
        ("import", t_import, rss_import, ">= 20,000/s"),
    ]
    for name, secs, rss, goal in rows:
        rss_text = f"{rss / 1024:.0f}" if rss else "-"
        print(f"{name:<10}{secs:>10.2f}{n / secs:>12,.0f}{rss_text:>14}{goal:>30}")
    print("(times include process start-up and migration check, ~1-2 s each)")


if __name__ == "__main__":
    main()
