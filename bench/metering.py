"""Metering cost: resolution throughput with metering on, as a ratio to metering off.

    python bench/metering.py [--records 1000] [--duration 8] [--rounds 2]

1. Starts an embedded ``idnest serve`` (SQLite, one process, the wire door on a free port)
   in a temp folder and registers N identifiers through the API.
2. Runs each door with metering **off** and **on**, alternating (off, on, off, on...) so
   that drift in the shared machine's load hits both alike:
   - REST: wrk (Debian package ``wrk``) on ``GET /api/handles/{random handle}``;
   - wire: ``bench/loadgen/udpload.c`` (compiled with gcc) at UDP saturation.
   "Off" is the same server with ``ResolutionCounters.hit`` replaced by a no-op before it
   starts (a bench-only switch: the product has none); "on" is the product as shipped,
   flushing every second (IDNEST_COUNTER_FLUSH_INTERVAL=1, five times the default rate).
3. Prints a table: requests/s per door and mode (best and median of the rounds) and the
   on/off ratios. Target: ratio >= 0.95. Not a test: figures depend on the machine and
   its load.
4. On a 2-core machine that also runs the load generator, round-to-round drift (±20 %)
   dwarfs what metering costs, so the bench also times what metering adds to a request,
   ``ResolutionCounters.hit``, in this process, and prints the ratio it implies at the
   measured "off" rate: 1 / (1 + hit time × requests/s).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import timeit
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench")]
from resolve_http import WRK_SCRIPT, free_port, run_wrk, wait_ready  # noqa: E402
from resolve_wire import build_loadgen, udpload  # noqa: E402

IDNEST = str(Path(sys.executable).with_name("idnest"))
# Metering off: the counters' hit is a no-op in this process (and its wire door).
OFF = (
    "import resolver.counters as c; c.ResolutionCounters.hit = lambda self, tenant_id: None; "
    "from portal.cli import main; main()"
)


def _env(work: Path, wire_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDNEST_")}
    env.update(
        IDNEST_VAR_DIR=str(work / "var"),
        IDNEST_LOG_LEVEL="WARNING",
        IDNEST_WIRE_PORT=str(wire_port),
        IDNEST_WIRE_HOST="127.0.0.1",
        IDNEST_COUNTER_FLUSH_INTERVAL="1",
        IDNEST_SCHEDULER_ENABLED="false",
        # All load comes from one address here; the per-source limit would cap it.
        IDNEST_WIRE_UDP_RATE="0",
        IDNEST_WIRE_ADDRESSES="127.0.0.1",
    )
    return env


def _cli(work: Path, env: dict[str, str], *args: str) -> str:
    out = subprocess.run([IDNEST, *args], cwd=work, env=env, capture_output=True, text=True,
                         check=True)  # fmt: skip
    return out.stdout.strip().splitlines()[-1]


def _serve(work: Path, env: dict[str, str], port: int, metering: bool) -> subprocess.Popen[bytes]:
    args = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    cmd = [IDNEST, *args] if metering else [sys.executable, "-c", OFF, *args]
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    wait_ready(f"http://127.0.0.1:{port}/readyz", proc)
    return proc


def _register(base: str, key: str, prefix: str, n: int) -> list[str]:
    handles = [f"{prefix}/METER-{i:06d}" for i in range(n)]
    headers = {"Authorization": f"Bearer {key}"}
    body = [{"index": 1, "type": "URL", "data": "https://example.com/" + "x" * 400}]
    with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
        for h in handles:
            c.put(f"/api/handles/{h}", json=body).raise_for_status()
    return handles


def _round(work: Path, env: dict[str, str], metering: bool, files: dict[str, Path],
           args: argparse.Namespace, wire_port: int) -> dict[str, float]:  # fmt: skip
    port = free_port()
    proc = _serve(work, env, port, metering)
    base = f"http://127.0.0.1:{port}"
    try:
        run_wrk(base, files["lua"], 3, args.connections, 1)  # warm every record into the cache
        rest = run_wrk(base, files["lua"], args.duration, args.connections, 1)
        udp_args = ["-r", "0", "-w", "256", "-t", "1", "-d"]
        udpload(files["udpload"], files["handles"], wire_port, *udp_args, "2")  # warm-up
        wire = udpload(files["udpload"], files["handles"], wire_port, *udp_args,
                       str(args.duration))  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {"rest": rest["rps"], "wire": float(wire["qps"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1000)
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--connections", type=int, default=32)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="idnest-bench-metering-"))
    wire_port = free_port()
    env = _env(work, wire_port)
    prefix = _cli(work, env, "tenant", "create", "--name", "Metering Bench")
    key = _cli(work, env, "apikey", "create", "--tenant", prefix)
    port = free_port()
    proc = _serve(work, env, port, True)
    try:
        handles = _register(f"http://127.0.0.1:{port}", key, prefix, args.records)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    files = {"handles": work / "handles.txt", "lua": work / "handles.lua",
             "udpload": build_loadgen(work)}  # fmt: skip
    files["handles"].write_text("\n".join(handles) + "\n")
    files["lua"].write_text(WRK_SCRIPT % (files["handles"], random.randrange(1 << 30)))
    runs: dict[tuple[str, bool], list[float]] = {}
    for n in range(args.rounds):
        for metering in (False, True):
            got = _round(work, env, metering, files, args, wire_port)
            for door, rps in got.items():
                runs.setdefault((door, metering), []).append(rps)
            print(f"round {n + 1}, metering {'on' if metering else 'off'}: "
                  f"REST {got['rest']:.0f}/s, wire {got['wire']:.0f}/s", flush=True)  # fmt: skip
    hit = _hit_seconds()
    load = os.getloadavg()
    print(f"\nload average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {os.cpu_count()} cores; "
          f"{args.records} records, {args.duration}s per run, {args.rounds} rounds")  # fmt: skip
    print(f"ResolutionCounters.hit: {hit * 1e9:.0f} ns a call (this process, best of 5)\n")
    print(f"{'door':<6}{'off best':>10}{'on best':>10}{'ratio':>7}{'off med':>10}{'on med':>10}"
          f"{'ratio':>7}{'implied':>9}")  # fmt: skip
    for door in ("rest", "wire"):
        off, on = runs[(door, False)], runs[(door, True)]
        best_off, best_on = max(off), max(on)
        med_off, med_on = statistics.median(off), statistics.median(on)
        implied = 1 / (1 + hit * best_off)
        print(f"{door:<6}{best_off:>10.0f}{best_on:>10.0f}{best_on / best_off:>7.3f}"
              f"{med_off:>10.0f}{med_on:>10.0f}{med_on / med_off:>7.3f}"
              f"{implied:>9.4f}")  # fmt: skip


def _hit_seconds(calls: int = 1_000_000) -> float:
    """What metering adds to one resolution: a call of the counters' hit (a few tenants)."""
    sys.path.insert(0, str(ROOT))
    from resolver.counters import ResolutionCounters

    counters = ResolutionCounters()
    hit = counters.hit
    for tenant in range(8):
        hit(tenant)
    return min(timeit.repeat("hit(3)", globals={"hit": hit}, number=calls, repeat=5)) / calls


if __name__ == "__main__":
    main()
