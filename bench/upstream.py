"""Upstream latency benchmark: the time from a write to its message at the top-level node.

    python bench/upstream.py [--rate 1000] [--duration 10] [--connections 32] [--postgres]
                             [--batch N]

1. Starts the fake top-level node (``idnest devtools toplevel``) and ``idnest serve``
   pointed at it (``IDNEST_UPSTREAM_URL``, scheduler tick 1 s; embedded SQLite, or with
   ``--postgres`` a fresh PostgreSQL database and Hypercorn workers = cores).
2. Sends single-identifier PUTs open-loop at ``--rate`` per second for ``--duration`` s
   over ``--connections`` connections, noting when each PUT returned. With ``--batch N``
   the same rate of identifiers arrives as SNMS ``batchCreate`` requests of N each (how
   an enterprise's systems register at volume; one PUT costs the node ~7 ms of CPU, so
   single PUTs top out near 130/s on 2 cores, far below the rate the outbox must carry).
3. Waits until the fake node holds every identifier's message and prints a table: writes
   sent and achieved per second, and write → message latency p50/p90/p99/max, where the
   latency is the fake node's receipt time minus the PUT's return time (same machine,
   same clock).

Not a test and not a CI gate: the load generator, the node and the fake share the cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

IDNEST = str(Path(sys.executable).with_name("idnest"))
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen[bytes], what: str) -> None:
    for _ in range(300):
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            if proc.poll() is not None:
                raise SystemExit(f"{what} exited") from None
            time.sleep(0.2)
    raise SystemExit(f"{what} did not start")


async def _load(base: str, key: str, prefix: str, rate: float, duration: float,
                connections: int, batch: int = 1) -> dict[str, float]:  # fmt: skip
    done: dict[str, float] = {}
    failures = 0
    queue: asyncio.Queue[list[str] | None] = asyncio.Queue()
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=base, limits=limits, headers=headers, timeout=30) as c:

        async def worker() -> None:
            nonlocal failures
            while (names := await queue.get()) is not None:
                if batch == 1:
                    value = [{"index": 1, "type": "URL", "data": f"https://e.x/{names[0]}"}]
                    r = await c.put(f"/api/handles/{prefix}/{names[0]}", json={"values": value})
                    if r.status_code in (200, 201):
                        done[f"{prefix}/{names[0]}"] = time.time()
                    else:
                        failures += 1
                    continue
                items = [{"handle": f"{prefix}/{n}",
                          "value": [{"index": 1, "type": "URL", "data": f"https://e.x/{n}"}]}
                         for n in names]  # fmt: skip
                r = await c.post("/identityv2/data/batchCreate", json=items)
                answered = time.time()
                results = r.json().get("data") if r.status_code == 200 else None
                for item, result in zip(items, results or [], strict=False):
                    if isinstance(result, dict) and result.get("status") == 1:
                        done[item["handle"]] = answered
                failures += len(items) - sum(1 for i in items if i["handle"] in done)

        tasks = [asyncio.create_task(worker()) for _ in range(connections)]
        start = time.monotonic()
        n = 0
        while (elapsed := time.monotonic() - start) < duration:
            due = int(elapsed * rate)
            while n + batch <= due:
                queue.put_nowait([f"UB-{n + i}" for i in range(batch)])
                n += batch
            await asyncio.sleep(0.005)
        for _ in tasks:
            queue.put_nowait(None)
        await asyncio.gather(*tasks)
    if failures:
        print(f"warning: {failures} writes failed", file=sys.stderr)
    return done


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _env(work: str, upstream: str, postgres_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDNEST_")}
    env.update(IDNEST_VAR_DIR=os.path.join(work, "var"), IDNEST_LOG_LEVEL="WARNING",
               IDNEST_UPSTREAM_URL=upstream, IDNEST_SCHEDULER_TICK="1",
               IDNEST_WIRE_ENABLED="false")  # fmt: skip
    if postgres_url:
        env["IDNEST_DATABASE_URL"] = postgres_url
    return env


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=1000)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--postgres", action="store_true")
    ap.add_argument("--batch", type=int, default=1, help="identifiers per request (SNMS batch)")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="idnest-bench-upstream-")
    pg_url = ""
    if args.postgres:
        import asyncpg

        name = f"idnest_bench_up_{uuid.uuid4().hex[:8]}"

        async def create() -> None:
            conn = await asyncpg.connect(PG_ADMIN)
            await conn.execute(f'CREATE DATABASE "{name}"')
            await conn.close()

        asyncio.run(create())
        pg_url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    fport, port = _free_port(), _free_port()
    fake = subprocess.Popen([IDNEST, "devtools", "toplevel", "--port", str(fport)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    upstream = f"http://127.0.0.1:{fport}"
    env = _env(work, upstream, pg_url)
    workers = str(os.cpu_count() or 1) if args.postgres else "1"
    serve = subprocess.Popen(
        [IDNEST, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", workers],
        cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_http(f"{upstream}/_devtools/received", fake, "the fake top-level node")
        base = f"http://127.0.0.1:{port}"
        _wait_http(f"{base}/healthz", serve, "idnest serve")

        def cli(*a: str) -> str:
            out = subprocess.run(
                [IDNEST, *a], cwd=work, env=env, check=True, capture_output=True, text=True
            )
            return out.stdout.strip().splitlines()[-1]

        prefix = cli("tenant", "create", "--name", "Bench Upstream")
        key = cli("apikey", "create", "--tenant", prefix, "--scopes", "read,write")
        t0 = time.monotonic()
        done = asyncio.run(_load(base, key, prefix, args.rate, args.duration, args.connections,
                                 args.batch))  # fmt: skip
        wall = time.monotonic() - t0
        received: dict[str, float] = {}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            got = httpx.get(f"{upstream}/_devtools/received", timeout=30).json()["data"]
            received = {}
            for e in got["events"]:
                if e["kind"] == "identifier":  # one write, or a batch's "items"
                    for item in e["data"].get("items", [e["data"]]):
                        received[item["handle"]] = e["receivedAt"]
            if all(h in received for h in done):
                break
            time.sleep(1)
        lat = [received[h] - t for h, t in done.items() if h in received]
        missing = len(done) - len(lat)
        load = os.getloadavg()
        print(
            "| writes | per request | writes/s achieved | p50 ms | p90 ms | p99 ms | max ms "
            "| missing | profile | load |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        print(
            f"| {len(done)} | {args.batch} | {len(done) / wall:.0f} (target {args.rate:.0f}) | "
            f"{_pct(lat, 50) * 1000:.0f} | {_pct(lat, 90) * 1000:.0f} | "
            f"{_pct(lat, 99) * 1000:.0f} | {max(lat) * 1000:.0f} | {missing} | "
            f"{'postgres' if pg_url else 'embedded'} | {load[0]:.1f} |"
        )
        if lat:
            print(f"mean {statistics.mean(lat) * 1000:.0f} ms over {len(lat)} messages")
    finally:
        serve.terminate()
        fake.terminate()
        serve.wait(20)
        fake.wait(20)


if __name__ == "__main__":
    main()
