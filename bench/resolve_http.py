"""HTTP resolution benchmark: idnest against a bare Hypercorn app, in one run.

    python bench/resolve_http.py [--records 100000] [--duration 15] [--connections 50]
                                 [--server hypercorn|granian]

1. Seeds N identifiers of about 500 bytes in a fresh PostgreSQL database (rows are
   inserted directly; this measures resolution, not registration).
2. Starts ``idnest serve`` (``--server``: Hypercorn, the default, or Granian) with
   workers = cores, with Redis for invalidation. The anonymous rate limit is raised out
   of reach (all load comes from one address) but the gate still runs on every request.
3. Loads ``GET /api/handles/{random seeded handle}`` with wrk (Debian package ``wrk``),
   after warm-up passes that fill every worker's cache (until a pass's hit ratio, read
   from the workers' metric snapshots, is 99.5%); each pass prints its hit ratio.
4. Measures a bare Hypercorn ASGI app returning a constant 500-byte JSON body the same
   way, and prints our throughput as a ratio of it.
5. Prints registration figures: single PUT p50/p99, and the time from a PUT returning
   to the new value being visible to a GET on a fresh connection (another worker).

Not a test and not a CI gate: absolute numbers depend on the machine. wrk shares the
two cores with the servers; both servers are measured under the same handicap.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
IDNEST = str(Path(sys.executable).with_name("idnest"))
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


def pg_admin(sql: str) -> None:
    """One statement as the admin role: a bench's own CREATE / DROP DATABASE."""

    async def run() -> None:
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/0")

BARE_APP = """
BODY = b'{"responseCode":1,"handle":"88.100.1/X","values":[' + b'{"index":1}' * 40 + b']}'
BODY = BODY + b" " * (500 - len(BODY))

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(BODY)).encode())]})
    await send({"type": "http.response.body", "body": BODY})
"""

WRK_SCRIPT = """
local handles = {}
for line in io.lines("%s") do handles[#handles + 1] = line end
-- Each thread its own seed: with one seed both threads sent the same sequence, so
-- the second's requests were all hits on what the first had just loaded.
local seed, threads = %d, 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
function init(args) math.randomseed(seed + 7919 * tid) end
request = function()
  return wrk.format("GET", "/api/handles/" .. handles[math.random(#handles)])
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited early: {url}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"server not ready: {url}")


def record_values(n: int) -> str:
    """About 500 bytes of canonical values, as the registration path would store them."""
    ts = "2026-11-24T00:00:00Z"
    values = [
        {
            "index": 1,
            "type": "URL",
            "data": {"format": "string", "value": f"https://example.com/products/p-{n:07d}"},
            "ttl": 86400,
            "timestamp": ts,
        },
        {
            "index": 2,
            "type": "EMAIL",
            "data": {"format": "string", "value": "ops@example.com"},
            "ttl": 86400,
            "timestamp": ts,
        },
        {
            "index": 2000,
            "type": "model",
            "data": {"format": "string", "value": f"CP-{n % 997:03d} centrifugal pump, 4 kW"},
            "ttl": 86400,
            "timestamp": ts,
        },
        {
            "index": 100,
            "type": "HS_ADMIN",
            "data": {
                "format": "admin",
                "value": {"handle": "0.NA/88.100.1", "index": 200, "permissions": "011111110011"},
            },
            "ttl": 86400,
            "timestamp": ts,
        },
    ]
    return json.dumps(values, separators=(",", ":"))


async def seed(dsn: str, prefix_code: str, count: int) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        tenant_id = await conn.fetchval(
            "INSERT INTO tenants (prefix, code, name, status, created_at, updated_at) "
            "VALUES ($1, $2, 'Bench Co', 'active', now(), now()) RETURNING id",
            f"88.100.{prefix_code}",
            prefix_code,
        )
        handles = [f"88.100.{prefix_code}/PUMP-{n:07d}" for n in range(count)]
        rows = [(tenant_id, h, h.lower(), record_values(n)) for n, h in enumerate(handles)]
        await conn.copy_records_to_table(
            "identifiers",
            records=rows,
            columns=["tenant_id", "handle", "handle_key", "values"],
        )
        return handles
    finally:
        await conn.close()


def run_wrk(base: str, script: Path, duration: int, connections: int, threads: int) -> dict:
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            str(script),
            base,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50": pct("50"),
        "p99": pct("99"),
        "non2xx": int(errors.group(1)) if errors else 0,
    }


def cache_counts(metrics: Path) -> tuple[float, float]:
    """Cache hits and misses of every serving process, from their metric snapshots
    (written every IDNEST_COUNTER_FLUSH_INTERVAL seconds)."""
    hits = misses = 0.0
    for path in metrics.glob("*.json"):
        try:
            snap = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for name, _labels, value in snap["counters"]:
            if name == "idnest_cache_hits_total":
                hits += value
            elif name == "idnest_cache_misses_total":
                misses += value
    return hits, misses


def hit_ratio(metrics: Path, before: tuple[float, float], flush: float = 1.0) -> float:
    """The hit ratio since ``before`` (a cache_counts), once the snapshots have caught up."""
    time.sleep(flush * 1.5)
    hits, misses = cache_counts(metrics)
    dh, dm = hits - before[0], misses - before[1]
    return dh / (dh + dm) if dh + dm else float("nan")


def warm_up(base: str, script: Path, args: argparse.Namespace, metrics: Path,
            limit_s: float = 240) -> dict:  # fmt: skip
    """Passes until the caches are full: a pass with a hit ratio of 99.5% or more."""
    started = time.monotonic()
    while True:
        before = cache_counts(metrics)
        result = run_wrk(base, script, 10, args.connections, args.threads)
        result["hit"] = hit_ratio(metrics, before)
        print(f"warm-up pass: {result['rps']:,.0f} req/s, hit ratio {result['hit']:.4f}",
              flush=True)  # fmt: skip
        if result["hit"] >= 0.995:
            return result
        if time.monotonic() - started > limit_s:
            print(f"warm-up did not settle in {limit_s:.0f}s; measuring anyway", file=sys.stderr)
            return result


def registration_figures(
    base: str, key: str, prefix: str, samples: int, *, keep: bool = False
) -> dict:
    headers = {"Authorization": f"Bearer {key}"}
    host, port = base.removeprefix("http://").split(":")
    put_ms: list[float] = []
    visible_ms: list[float] = []
    read_sent_ms: list[float] = []  # PUT answered -> the read that saw it sent
    first_try = 0
    with httpx.Client(base_url=base, headers=headers) as writer:
        for n in range(samples):
            h = f"{prefix}/REG-{n}"
            url = f"https://example.com/reg/{n}/{uuid.uuid4().hex}"
            writer.put(f"/api/handles/{h}", json=[{"index": 1, "type": "URL", "data": "x"}])
            httpx.get(f"{base}/api/handles/{h}")  # cached in some worker
            t0 = time.perf_counter()
            r = writer.put(
                f"/api/handles/{h}?index=1", json=[{"index": 1, "type": "URL", "data": url}]
            )
            t1 = time.perf_counter()
            assert r.status_code == 200, r.text
            put_ms.append((t1 - t0) * 1000)
            tries = 0
            while True:
                tries += 1
                # A fresh connection: SO_REUSEPORT spreads these over the workers.
                conn = http.client.HTTPConnection(host, port)
                conn.connect()
                sent = time.perf_counter()
                conn.request("GET", f"/api/handles/{h}")
                body = conn.getresponse().read().decode()
                conn.close()
                if url in body:
                    break
            visible_ms.append((time.perf_counter() - t1) * 1000)
            read_sent_ms.append((sent - t1) * 1000)
            first_try += tries == 1
    return {
        "put_p50": statistics.median(put_ms),
        "put_p99": statistics.quantiles(put_ms, n=100)[98],
        "visible_p50": statistics.median(visible_ms),
        "visible_max": max(visible_ms),
        "first_read_fresh": f"{first_try}/{samples}",
        **({"visible_ms": visible_ms, "read_sent_ms": read_sent_ms} if keep else {}),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--duration", type=int, default=15)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--server", choices=("hypercorn", "granian"), default="hypercorn")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")

    dbname = f"idnest_bench_{uuid.uuid4().hex[:8]}"
    dsn = PG_ADMIN.rsplit("/", 1)[0] + f"/{dbname}"
    work = Path(tempfile.mkdtemp(prefix="idnest-bench-"))
    procs: list[subprocess.Popen[bytes]] = []

    pg_admin(f'CREATE DATABASE "{dbname}"')
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDNEST_")}
    env.update(
        IDNEST_DATABASE_URL=dsn,
        IDNEST_REDIS_URL=REDIS,
        IDNEST_VAR_DIR=str(work / "var"),
        IDNEST_LOG_LEVEL="WARNING",
        IDNEST_RECORD_CACHE_MB=str(max(64, args.records * 3 // 1000)),
        IDNEST_METRICS_DIR=str(work / "metrics"),
        IDNEST_COUNTER_FLUSH_INTERVAL="1",
        # wrk is one source: the default 500/s anonymous limit would answer 429s.
        IDNEST_RATE_LIMIT_ANONYMOUS="100000000/second",
    )
    try:
        subprocess.run([IDNEST, "migrate"], env=env, check=True, cwd=work)
        t0 = time.perf_counter()
        handles = asyncio.run(seed(dsn, "9000", args.records))
        seed_s = time.perf_counter() - t0
        handles_file = work / "handles.txt"
        handles_file.write_text("\n".join(handles) + "\n")
        script = work / "random.lua"
        script.write_text(WRK_SCRIPT % (handles_file, random.randint(1, 10**6)))

        port = free_port()
        ours = subprocess.Popen(
            [
                IDNEST,
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--server",
                args.server,
            ],
            env=env,
            cwd=work,
        )
        procs.append(ours)
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/readyz", ours)
        # Warm every worker's cache. Each connection sticks to one worker, so random
        # requests keep finding handles some worker has not loaded yet; repeat until a pass
        # is answered from the caches (hit ratio from the workers' metric snapshots).
        warm = warm_up(base, script, args, work / "metrics")
        before = cache_counts(work / "metrics")
        ours_result = run_wrk(base, script, args.duration, args.connections, args.threads)
        ours_result["hit"] = hit_ratio(work / "metrics", before)
        print(f"measured pass: hit ratio {ours_result['hit']:.4f}", flush=True)

        prefix = subprocess.run(
            [IDNEST, "tenant", "create", "--name", "Reg Bench"],
            env=env,
            cwd=work,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        key = subprocess.run(
            [IDNEST, "apikey", "create", "--tenant", prefix],
            env=env,
            cwd=work,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        reg = registration_figures(base, key, prefix, args.samples)
        ours.terminate()
        ours.wait(timeout=20)

        (work / "bare_app.py").write_text(BARE_APP)
        bport = free_port()
        bare = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hypercorn",
                "--workers",
                str(args.workers),
                "--worker-class",
                "uvloop",
                "-b",
                f"127.0.0.1:{bport}",
                "bare_app:app",
            ],
            cwd=work,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(bare)
        bbase = f"http://127.0.0.1:{bport}"
        wait_ready(bbase, bare)
        run_wrk(bbase, script, 3, args.connections, args.threads)
        bare_result = run_wrk(bbase, script, args.duration, args.connections, args.threads)
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
        f"\nHTTP resolution, {args.records:,} records seeded in {seed_s:.1f}s, "
        f"{args.workers} {args.server} workers, wrk -t{args.threads} -c{args.connections} "
        f"-d{args.duration}s, random handles"
    )
    print(f"{'server':<34}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}")
    for name, r in (
        ("idnest GET /api/handles/{h} (warm)", ours_result),
        ("idnest last warm-up pass", warm),
        ("bare Hypercorn, 500-byte JSON", bare_result),
    ):
        print(f"{name:<34}{r['rps']:>10.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}{r['non2xx']:>9}")
    print(f"{'ratio idnest / bare':<34}{ratio:>10.2f}   (target >= 0.80, p99 <= 20 ms)")
    print("\nRegistration")
    print(f"{'single PUT p50 / p99 (ms)':<44}{reg['put_p50']:>8.2f} / {reg['put_p99']:.2f}")
    print(
        f"{'PUT returned -> visible in another worker':<44}"
        f"{reg['visible_p50']:>8.2f} ms p50, {reg['visible_max']:.2f} ms max"
    )
    print(f"{'first read after PUT already fresh':<44}{reg['first_read_fresh']:>8}")


if __name__ == "__main__":
    main()
