"""Escrow DIFF time over a large node: N identifiers, then C changes, then one DIFF.

    python bench/escrow.py                          # 1,000,000 identifiers, 10,000 changes
    python bench/escrow.py --rows 100000 --changes 10000
    python bench/escrow.py --postgres               # a throw-away database idnest_bench_escrow

Embedded (SQLite in a temporary folder) unless --postgres. The identifiers are inserted
in bulk with SQL (the change-log triggers fire as for any write); a set is then marked
as already taken at this point (the base a weekly FULL would be, with the change log
purged below it as a FULL leaves it), so the DIFF covers exactly the changes that
follow: updates, deletes and inserts in the ratio 8:1:1.
Prints a table. Not a CI gate. Target: the DIFF of 10,000 changes over 1,000,000
identifiers in under 10 s. ``--full`` also times a FULL of the whole node.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ADMIN = os.environ.get("IDNEST_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
VALUES = '[{"index":1,"type":"URL","data":{"format":"string","value":"https://e.example/p/%d"}}]'
STAMP = "2026-12-01 00:00:00+00:00"


async def _seed(rows: int) -> tuple[int, str]:
    from core import changelog
    from tenants.accounts.services.tenants import create_tenant

    t = await create_tenant("Bench Escrow", actor="bench")
    async with changelog.snapshot(write=True) as snap:
        for start in range(0, rows, 20_000):
            batch = [
                (t.id, f"{t.prefix}/P-{i}", f"{t.prefix}/p-{i}", VALUES % i, STAMP, STAMP)
                for i in range(start, min(rows, start + 20_000))
            ]
            cast = "::timestamptz" if snap.postgres else ""
            await snap.executemany(
                'INSERT INTO identifiers (tenant_id, handle, handle_key, "values", created_at, '
                f"updated_at) VALUES (?, ?, ?, ?, ?{cast}, ?{cast})",
                [(a, b, c, d, datetime.fromisoformat(e), datetime.fromisoformat(f))
                 if snap.postgres else (a, b, c, d, e, f) for a, b, c, d, e, f in batch],
            )  # fmt: skip
    return t.id, t.prefix


async def _mark_base() -> None:
    """The point a FULL would have been taken: later changes are the DIFF's, and the log
    is purged below the mark as a FULL purges it."""
    from core import changelog
    from core.tables import EscrowSet
    from tenants.escrow.services import sets

    async with changelog.snapshot() as snap:
        mark = snap.mark
    await sets._purge(snap.postgres, mark)
    now = datetime.now(UTC)
    base = EscrowSet(name=f"bench-base-{now.timestamp()}", kind="full", path="",
                     watermark=mark, status="uploaded", created_at=now, written_at=now)  # fmt: skip
    await EscrowSet.insert(base).run()


async def _change(tenant: int, prefix: str, rows: int, changes: int) -> None:
    from core import changelog

    updates, deletes = changes * 8 // 10, changes // 10
    inserts = changes - updates - deletes
    async with changelog.snapshot(write=True) as snap:
        step = max(1, rows // (updates + deletes))
        picked = list(range(0, rows, step))[: updates + deletes]
        await snap.executemany(
            'UPDATE identifiers SET "values" = ?, version = version + 1 '
            "WHERE tenant_id = ? AND handle_key = ?",
            [(VALUES % (i + 1), tenant, f"{prefix}/p-{i}") for i in picked[:updates]],
        )
        await snap.executemany(
            "DELETE FROM identifiers WHERE tenant_id = ? AND handle_key = ?",
            [(tenant, f"{prefix}/p-{i}") for i in picked[updates:]],
        )
        now = datetime.now(UTC)
        stamp = now if snap.postgres else now.isoformat()
        await snap.executemany(
            'INSERT INTO identifiers (tenant_id, handle, handle_key, "values", created_at, '
            "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            [(tenant, f"{prefix}/N-{i}", f"{prefix}/n-{i}", VALUES % i, stamp, stamp)
             for i in range(inserts)],
        )  # fmt: skip


async def main(args: argparse.Namespace, out: Path) -> list[tuple[str, str]]:
    from core import db
    from core.migrate import migrate
    from core.settings import get_settings
    from tenants.escrow.services import sets

    await db.start()
    await migrate()
    settings = get_settings()
    t0 = time.perf_counter()
    tenant, prefix = await _seed(args.rows)
    seeded = time.perf_counter() - t0
    table = [("identifiers seeded", f"{args.rows:,} in {seeded:.1f} s")]
    if args.full:
        t0 = time.perf_counter()
        info = await sets.run(settings, full=True, out=out)
        table.append(("FULL set", f"{info.rows:,} rows in {time.perf_counter() - t0:.1f} s"))
    else:
        await _mark_base()
    await _change(tenant, prefix, args.rows, args.changes)
    t0 = time.perf_counter()
    info = await sets.run(settings, out=out)
    took = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in info.path.iterdir())
    table += [
        ("DIFF changes / rows written", f"{info.changes:,} / {info.rows:,}"),
        ("DIFF time", f"{took:.2f} s (target < 10 s)"),
        ("DIFF size", f"{size / 1e6:.2f} MB"),
        ("peak RSS", f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"),
    ]
    await db.stop()
    return table


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--full", action="store_true", help="also time a FULL set")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="idnest-bench-escrow-"))
    os.environ["IDNEST_VAR_DIR"] = str(work / "var")
    os.environ["IDNEST_ESCROW_KEY"] = base64.b64encode(os.urandom(32)).decode()
    os.environ["IDNEST_LOG_LEVEL"] = "WARNING"
    pg_url = ""
    if args.postgres:
        import asyncpg

        async def admin(sql: str) -> None:
            conn = await asyncpg.connect(ADMIN)
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        asyncio.run(admin("DROP DATABASE IF EXISTS idnest_bench_escrow WITH (FORCE)"))
        asyncio.run(admin("CREATE DATABASE idnest_bench_escrow"))
        pg_url = ADMIN.rsplit("/", 1)[0] + "/idnest_bench_escrow"
        os.environ["IDNEST_DATABASE_URL"] = pg_url
    table = asyncio.run(main(args, work / "escrow"))
    profile = "postgres" if args.postgres else "embedded (SQLite)"
    print(f"\nescrow bench, {profile}, load {os.getloadavg()[0]:.1f}")
    for name, value in table:
        print(f"  {name:<30} {value}")


if __name__ == "__main__":
    run()
