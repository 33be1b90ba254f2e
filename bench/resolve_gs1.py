"""GS1 Digital Link redirect throughput for cached keys, as a ratio to bare Hypercorn.

    python bench/resolve_gs1.py [--keys 1000] [--duration 8] [--connections 50]

Measured the way ``bench/resolve_http.py`` measures Handle resolution (its wrk runner
and readiness check are reused):

1. Seeds a fresh PostgreSQL database through the services: one tenant, a verified GS1
   company prefix, one ``gs1:pip`` link per GTIN.
2. Starts ``idnest serve`` with Hypercorn workers = cores, with Redis for invalidation
   (a private ``redis-server``, unless ``BENCH_REDIS`` names one: the invalidation
   channel is shared, and other idnest processes on the machine would flush our caches).
3. Loads ``GET /01/{random seeded GTIN}`` with wrk after warm-up passes that fill every
   worker's cache; every answer is a 307 to the key's default link.
4. Loads a bare Hypercorn ASGI app answering a constant 307 the same way, and prints
   our throughput as a ratio of it (the target is at least 0.6).

Not a test and not a CI gate. Runs are short (at most 10 s each): the machine is shared.
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

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
from resolve_http import free_port, pg_admin, run_wrk, wait_ready  # noqa: E402

IDNEST = str(Path(sys.executable).with_name("idnest"))
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
# A private redis-server by default: the invalidation channel is node-wide, and on a
# shared machine other idnest processes (test runs) publish flushes on it.
REDIS = os.environ.get("BENCH_REDIS", "")
GCP = "695000123"

BARE_APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 307,
                "headers": [(b"location", b"https://brand.example/p/0000001"),
                            (b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})
"""

WRK_SCRIPT = """
local paths = {}
for line in io.lines("%s") do paths[#paths + 1] = line end
math.randomseed(%d)
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
"""


def gtin(item: int) -> str:
    from core.schemes.gs1 import gs1_check_digit

    body = "0" + GCP + f"{item:03d}"
    return body + str(gs1_check_digit(body))


async def seed(count: int) -> list[str]:
    from core import db
    from core.auth import Principal
    from tenants.accounts.services.tenants import create_tenant
    from tenants.schemes.services.links import add_link
    from tenants.schemes.services.namespaces import request_namespace, review_namespace

    await db.start()
    try:
        tenant = await create_tenant("GS1 Bench Foods", actor="bench")
        await request_namespace(tenant.id, "gs1", GCP, actor="bench")
        await review_namespace("gs1", GCP, verified=True, actor="bench")
        principal = Principal("bench", tenant.id, tenant.prefix, frozenset({"read", "write"}))
        paths = []
        for item in range(1, count + 1):
            path = f"/01/{gtin(item)}"
            await add_link(principal, path, link_type="gs1:pip",
                           href=f"https://brand.example/p/{item:07d}")  # fmt: skip
            paths.append(path)
        return paths
    finally:
        await db.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1000, help="GTINs to seed (at most 999)")
    ap.add_argument("--duration", type=int, default=8, help="seconds per run (at most 10)")
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    keys = max(1, min(args.keys, 999))
    duration = max(1, min(args.duration, 10))
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")

    dbname = f"idnest_bench_gs1_{uuid.uuid4().hex[:8]}"
    dsn = PG_ADMIN.rsplit("/", 1)[0] + f"/{dbname}"
    work = Path(tempfile.mkdtemp(prefix="idnest-bench-gs1-"))
    procs: list[subprocess.Popen[bytes]] = []

    redis_url = REDIS
    if not redis_url:
        if not shutil.which("redis-server"):
            raise SystemExit("redis-server is needed (or set BENCH_REDIS=redis://...)")
        rport = free_port()
        procs.append(
            subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(rport),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(work),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        redis_url = f"redis://127.0.0.1:{rport}/0"
    pg_admin(f'CREATE DATABASE "{dbname}"')
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDNEST_")}
    env.update(
        IDNEST_DATABASE_URL=dsn,
        IDNEST_REDIS_URL=redis_url,
        IDNEST_VAR_DIR=str(work / "var"),
        IDNEST_LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    try:
        subprocess.run([IDNEST, "migrate"], env=env, check=True, cwd=work)
        os.environ.update({k: v for k, v in env.items() if k != "IDNEST_REDIS_URL"})
        paths = asyncio.run(seed(keys))
        paths_file = work / "paths.txt"
        paths_file.write_text("\n".join(paths) + "\n")
        script = work / "random.lua"
        script.write_text(WRK_SCRIPT % (paths_file, random.randint(1, 10**6)))

        port = free_port()
        ours = subprocess.Popen(
            [IDNEST, "serve", "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(args.workers)],
            env=env, cwd=work,
        )  # fmt: skip
        procs.append(ours)
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/readyz", ours)
        first = httpx.get(base + paths[0])
        assert first.status_code == 307, f"expected 307, got {first.status_code}: {first.text}"
        run_wrk(base, script, 3, args.connections, args.threads)  # warm every worker
        warm = run_wrk(base, script, 3, args.connections, args.threads)
        ours_result = run_wrk(base, script, duration, args.connections, args.threads)
        ours.terminate()
        ours.wait(timeout=20)

        (work / "bare_app.py").write_text(BARE_APP)
        bport = free_port()
        bare = subprocess.Popen(
            [sys.executable, "-m", "hypercorn", "--workers", str(args.workers),
             "--worker-class", "uvloop", "-b", f"127.0.0.1:{bport}", "bare_app:app"],
            cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        procs.append(bare)
        bbase = f"http://127.0.0.1:{bport}"
        wait_ready(bbase, bare)
        run_wrk(bbase, script, 3, args.connections, args.threads)
        bare_result = run_wrk(bbase, script, duration, args.connections, args.threads)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
        pg_admin(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)

    ratio = ours_result["rps"] / bare_result["rps"]
    print(
        f"\nGS1 Digital Link redirects, {keys} GTINs with one link each, {args.workers} "
        f"Hypercorn workers, wrk -t{args.threads} -c{args.connections} -d{duration}s, "
        "random keys"
    )
    print(f"{'server':<34}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-3xx':>9}")
    for name, r in (
        ("idnest GET /01/{gtin} (cached)", ours_result),
        ("idnest warm-up pass 2", warm),
        ("bare Hypercorn, constant 307", bare_result),
    ):
        print(f"{name:<34}{r['rps']:>10.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}{r['non2xx']:>9}")
    print(f"{'ratio idnest / bare':<34}{ratio:>10.2f}   (target >= 0.60)")


if __name__ == "__main__":
    main()
