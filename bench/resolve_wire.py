"""Handle wire protocol benchmark: idnest's resolver against the trivial UDP responder.

    python bench/resolve_wire.py [--records 100000] [--processes 2] [--duration 8]

1. Seeds N identifiers of about 500 bytes in a fresh PostgreSQL database with COPY
   (``resolve_http.seed``: this measures resolution, not registration).
2. Starts ``idnest resolver --processes P`` (SO_REUSEPORT) with a private redis-server
   for invalidation, so other processes' flushes on a shared Redis cannot empty its cache.
3. Compiles ``bench/loadgen/udpload.c`` and drives UDP RESOLUTION requests for random
   seeded handles: warm-up passes until one's hit ratio is 99.5% (each process's cache is
   full; ratios from the processes' metric snapshots), a fixed offered load of
   10,000 requests/s, and saturation (closed loop).
4. Measures ``bench/loadgen/trivial_udp.py`` (P processes, a constant 500-byte answer)
   at saturation with the same generator, in the same run, and prints the ratio.
5. TCP with persistent connections (``bench/loadgen/tcpload.c``, 64 connections opened
   before the clock starts): a fixed 10,000/s run, saturation with one request in flight
   per connection, and saturation with ``--pipeline`` requests in flight per connection.

Cached records: the measured handles are a random sample (``--working-set``, default
20,000) of the seeded ones, warmed first; warming all 100,000 in every process would
take longer than the bounded runs this shared machine allows. Figures are indicative:
the generator and the servers share two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
from resolve_http import cache_counts, free_port, hit_ratio, pg_admin, seed  # noqa: E402

IDNEST = str(Path(sys.executable).with_name("idnest"))
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("BENCH_REDIS", "")


def build_loadgen(work: Path, name: str = "udpload") -> Path:
    """Compile bench/loadgen/NAME.c (udpload or tcpload) into WORK and return the binary."""
    binary = work / name
    subprocess.run(["gcc", "-O2", "-Wall", "-pthread", "-o", str(binary),
                    str(ROOT / f"bench/loadgen/{name}.c")], check=True)  # fmt: skip
    return binary


def private_redis(work: Path, procs: list[subprocess.Popen[bytes]]) -> str:
    """Start a redis-server of the bench's own, so other processes' flushes on a shared
    invalidation channel cannot empty its caches; add it to ``procs`` and return its URL."""
    port = free_port()
    procs.append(subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(work)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    ))  # fmt: skip
    return f"redis://127.0.0.1:{port}/0"


def stop_sessions(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every process's session (the process and its workers, started with
    ``start_new_session``); SIGKILL what still runs 20 s later."""
    for p in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


def udpload(binary: Path, handles: Path, port: int, *args: str) -> dict[str, Any]:
    """Run a load generator (udpload or tcpload: the same options and JSON line)."""
    out = subprocess.run(
        [str(binary), "-f", str(handles), *args, f"127.0.0.1:{port}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return dict(json.loads(out.strip().splitlines()[-1]))


def wait_wire(port: int, handle: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    from resolver.wire.client import resolve_sync

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the resolver exited early")
        try:
            if resolve_sync(handle, server=("127.0.0.1", port), timeout=1).rc == 1:
                return
        except (OSError, TimeoutError):
            pass
        time.sleep(0.3)
    raise SystemExit("the resolver did not answer")


# --- main --------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--working-set", type=int, default=20_000)
    ap.add_argument("--processes", type=int, default=2, help="resolver processes")
    ap.add_argument("--duration", type=int, default=8, help="seconds per run (at most 10)")
    ap.add_argument("--threads", type=int, default=8,
                    help="generator threads (source ports) at saturation: few ports may all "
                         "hash to one SO_REUSEPORT process")  # fmt: skip
    ap.add_argument("--pipeline", type=int, default=8,
                    help="TCP requests in flight per connection in the pipelined run")
    ap.add_argument("--env", action="append", default=[], metavar="IDNEST_X=V",
                    help="a setting for the resolver processes (repeatable)")
    args = ap.parse_args()
    duration = max(1, min(args.duration, 10))
    work = Path(tempfile.mkdtemp(prefix="idnest-bench-wire-"))
    binary = build_loadgen(work)
    tcp_binary = build_loadgen(work, "tcpload")
    dbname = f"idnest_bench_wire_{uuid.uuid4().hex[:8]}"
    dsn = PG_ADMIN.rsplit("/", 1)[0] + f"/{dbname}"
    procs: list[subprocess.Popen[bytes]] = []

    redis_url = REDIS
    if not redis_url:
        if not shutil.which("redis-server"):
            raise SystemExit("redis-server is needed (or set BENCH_REDIS=redis://...)")
        redis_url = private_redis(work, procs)
    pg_admin(f'CREATE DATABASE "{dbname}"')
    port, tport = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDNEST_")}
    env.update(
        IDNEST_DATABASE_URL=dsn, IDNEST_REDIS_URL=redis_url, IDNEST_VAR_DIR=str(work / "var"),
        IDNEST_LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT), IDNEST_WIRE_HOST="127.0.0.1",
        IDNEST_WIRE_PORT=str(port), IDNEST_WIRE_ADDRESSES="127.0.0.1",
        # All load comes from one address here; the per-source limits would cap it (the
        # request gate still runs on every datagram, with a limit out of reach).
        IDNEST_WIRE_UDP_RATE="0", IDNEST_RATE_LIMIT_WIRE="100000000/second",
        IDNEST_METRICS_DIR=str(work / "metrics"),
        IDNEST_COUNTER_FLUSH_INTERVAL="1",
    )  # fmt: skip
    env.update(item.split("=", 1) for item in args.env)
    rows: list[tuple[str, dict[str, Any]]] = []
    try:
        subprocess.run([IDNEST, "migrate"], env=env, check=True, cwd=work)
        t0 = time.monotonic()
        handles = asyncio.run(seed(dsn, "1", args.records))
        print(f"seeded {len(handles)} identifiers in {time.monotonic() - t0:.1f} s", flush=True)
        sample = random.sample(handles, min(args.working_set, len(handles)))
        handles_file = work / "handles.txt"
        handles_file.write_text("\n".join(sample) + "\n")

        ours = subprocess.Popen(
            [IDNEST, "resolver", "--processes", str(args.processes)], env=env, cwd=work,
            start_new_session=True,
        )  # fmt: skip
        procs.append(ours)
        wait_wire(port, sample[0], ours)
        # Each process fills its own cache from the sources the kernel hashes to it; 8
        # threads = 8 source ports reach every process. Misses cost a database read, so
        # repeat bounded passes until answers come from the caches.
        metrics = work / "metrics"
        for _ in range(10):  # until a pass is answered from the caches
            before = cache_counts(metrics)
            warm = udpload(binary, handles_file, port, "-r", "0", "-w", "64", "-t", "8",
                           "-d", str(duration))  # fmt: skip
            warm["hit"] = hit_ratio(metrics, before)
            print(f"warm-up: {warm['received']} answers, {warm['qps']} qps, "
                  f"hit ratio {warm['hit']:.4f}", flush=True)  # fmt: skip
            if warm["hit"] >= 0.995:
                break
        before = cache_counts(metrics)
        rows.append(("idnest UDP, 10k/s offered", udpload(
            binary, handles_file, port, "-r", "10000", "-d", str(duration))))  # fmt: skip
        rows.append(
            (
                "idnest UDP, saturation",
                udpload(
                    binary,
                    handles_file,
                    port,
                    "-r",
                    "0",
                    "-w",
                    str(512 // args.threads),
                    "-t",
                    str(args.threads),
                    "-d",
                    str(duration),
                ),
            )
        )
        print(f"measured UDP passes: hit ratio {hit_ratio(metrics, before):.4f}", flush=True)
        # Persistent connections: opened before the clock starts and kept; 8 threads of
        # 8 so that SO_REUSEPORT spreads them over the processes.
        tcp = ("-t", "8", "-c", "8", "-d", str(duration))
        rows.append(("idnest TCP, 10k/s offered", udpload(
            tcp_binary, handles_file, port, *tcp, "-r", "10000")))  # fmt: skip
        rows.append(("idnest TCP, saturation", udpload(
            tcp_binary, handles_file, port, *tcp, "-r", "0", "-p", "1")))  # fmt: skip
        rows.append((f"idnest TCP, saturation, {args.pipeline} pipelined", udpload(
            tcp_binary, handles_file, port, *tcp, "-r", "0", "-p", str(args.pipeline))))
        os.killpg(ours.pid, signal.SIGTERM)
        ours.wait(timeout=20)

        trivial = subprocess.Popen(
            [sys.executable, str(ROOT / "bench/loadgen/trivial_udp.py"), "--port", str(tport),
             "--processes", str(args.processes)], cwd=work, start_new_session=True,
        )  # fmt: skip
        procs.append(trivial)
        time.sleep(1.5)
        rows.append(
            (
                "trivial UDP, saturation",
                udpload(
                    binary,
                    handles_file,
                    tport,
                    "-r",
                    "0",
                    "-w",
                    str(512 // args.threads),
                    "-t",
                    str(args.threads),
                    "-d",
                    str(duration),
                ),
            )
        )
    finally:
        stop_sessions(procs)
        pg_admin(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)

    print(f"\n{args.records} records seeded, {len(sample)} in the measured working set, "
          f"{args.processes} resolver processes, {duration} s per run\n")  # fmt: skip
    print("| run | qps | p50 µs | p99 µs | lost | rc≠1 | generator send lag p99 µs |")
    print("|---|---|---|---|---|---|---|")
    for name, r in rows:
        lag = r.get("send_lag_p99_us", "-")
        print(f"| {name} | {r['qps']:,} | {r.get('p50_us')} | {r.get('p99_us')} | "
              f"{r.get('lost', '-')} | {r.get('errors')} | {lag} |")  # fmt: skip
    ours_sat = dict(rows)["idnest UDP, saturation"]["qps"]
    trivial_sat = dict(rows)["trivial UDP, saturation"]["qps"]
    ratio = ours_sat / trivial_sat if trivial_sat else float("nan")
    p99 = dict(rows)["idnest UDP, 10k/s offered"]["p99_us"]
    print(f"\nUDP saturation ratio idnest/trivial: {ratio:.2f} (target >= 0.75); "
          f"p99 at 10k/s offered: {p99} µs (target <= 2000)")  # fmt: skip


if __name__ == "__main__":
    main()
