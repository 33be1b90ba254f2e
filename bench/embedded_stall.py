"""The embedded profile under a steady UDP load: QPS and p99 per 5-second interval.

    python bench/embedded_stall.py [--records 5000] [--minutes 2] [--processes 1]

1. Creates a tenant with ``idnest tenant create`` in a fresh var folder (SQLite, no
   Redis, no database URL: what a new user runs), then inserts N identifiers of about
   500 bytes straight into the SQLite file (this measures resolution, not registration).
2. Starts ``idnest resolver`` (one process unless ``--processes``).
3. Drives it with ``bench/loadgen/udpload.c`` in closed loop (64 requests in flight per
   thread, 2 threads) over all N handles, one 5-second run after another, and prints
   each interval's QPS, p50 and p99: the first intervals warm the cache, the later ones
   show whether the rate holds (issue 18: it fell from 8-16k to 550-2,300 QPS).

Not a test and not a CI gate; the generator and the server share the machine's cores.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
from resolve_http import free_port, record_values  # noqa: E402
from resolve_wire import build_loadgen, udpload, wait_wire  # noqa: E402

IDNEST = str(Path(sys.executable).with_name("idnest"))


def seed_sqlite(path: Path, prefix: str, count: int) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        (tenant_id,) = conn.execute("SELECT id FROM tenants WHERE prefix = ?", (prefix,)).fetchone()
        now = "2026-12-01 00:00:00+00:00"
        handles = [f"{prefix}/PUMP-{n:07d}" for n in range(count)]
        conn.executemany(
            "INSERT INTO identifiers (tenant_id, handle, handle_key, \"values\", search_text, "
            "created_at, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
            [(tenant_id, h, h.lower(), record_values(n), h.lower(), now, now)
             for n, h in enumerate(handles)],
        )  # fmt: skip
        conn.commit()
        return handles
    finally:
        conn.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=5000)
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--interval", type=int, default=5)
    ap.add_argument("--processes", type=int, default=1)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="idnest-bench-embedded-"))
    binary = build_loadgen(work)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDNEST_")}
    env.update(
        IDNEST_VAR_DIR=str(work / "var"), IDNEST_LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT),
        IDNEST_WIRE_HOST="127.0.0.1", IDNEST_WIRE_PORT=str(port),
        IDNEST_WIRE_ADDRESSES="127.0.0.1",
        # All load comes from one address here; the per-source limit would cap it.
        IDNEST_WIRE_UDP_RATE="0",
    )  # fmt: skip
    proc: subprocess.Popen[bytes] | None = None
    rows: list[tuple[float, dict]] = []
    try:
        prefix = subprocess.run(
            [IDNEST, "tenant", "create", "--name", "Stall Bench"], env=env, cwd=work,
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        handles = seed_sqlite(work / "var" / "idnest.sqlite3", prefix, args.records)
        handles_file = work / "handles.txt"
        handles_file.write_text("\n".join(handles) + "\n")
        proc = subprocess.Popen(
            [IDNEST, "resolver", "--processes", str(args.processes)], env=env, cwd=work,
            start_new_session=True,
        )  # fmt: skip
        wait_wire(port, handles[0], proc)
        started = time.monotonic()
        while time.monotonic() - started < args.minutes * 60:
            r = udpload(binary, handles_file, port, "-r", "0", "-w", "64", "-t", "2",
                        "-d", str(args.interval))  # fmt: skip
            rows.append((time.monotonic() - started, r))
            print(f"{rows[-1][0]:6.0f} s  {r['qps']:>7,} qps  p50 {r.get('p50_us')} µs  "
                  f"p99 {r.get('p99_us')} µs  lost {r.get('lost')}", flush=True)  # fmt: skip
    finally:
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    later = [r for t, r in rows if t > 30]
    if later:
        qps = sorted(r["qps"] for r in later)
        worst = max(r.get("p99_us", 0) for r in later)
        print(f"\n{args.records} records, embedded (SQLite), {args.processes} process(es): "
              f"after the first 30 s min {qps[0]:,} / median {qps[len(qps) // 2]:,} qps, "
              f"worst p99 {worst:,} µs")  # fmt: skip


if __name__ == "__main__":
    main()
