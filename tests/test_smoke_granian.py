"""`idnest serve --server granian --workers 2` as a user runs it: a subprocess on the
default dual-stack bind, registration and resolution over HTTP and over the wire door
each worker joins, /readyz, then SIGTERM and a clean exit with every worker's lifespan
shutdown done (the counters it held in memory reach the usage ledger)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time

import httpx
import pytest
import smoke_support

from portal.server import GRANIAN_KILL_TIMEOUT

pytest.importorskip("granian")  # in the dev extra: CI's `make install` has it

IDNEST = smoke_support.IDNEST


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def _wait_ready(base: str, proc: subprocess.Popen[bytes], log_path: str) -> None:
    for _ in range(200):
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    with open(log_path, errors="replace") as f:
        raise AssertionError(f"granian did not become ready:\n{f.read()[-4000:]}")


def test_granian_serves_registers_resolves_and_stops_cleanly(tmp_workdir: str):
    port, wire_port = smoke_support.free_port(), smoke_support.free_port()
    with smoke_support.empty_node(
        tmp_workdir, wire_port=str(wire_port), wire_udp_rate="0",
        # Counts stay in the workers' memory until their lifespan shutdown flushes them.
        counter_flush_interval="3600", log_level="INFO",
    ) as env:  # fmt: skip
        log_path = os.path.join(tmp_workdir, "granian.log")
        with open(log_path, "ab") as out:
            proc = subprocess.Popen(
                [IDNEST, "serve", "--server", "granian", "--workers", "2", "--port", str(port)],
                cwd=tmp_workdir, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_ready(base, proc, log_path)
            ready = httpx.get(f"{base}/readyz").json()
            assert ready["status"] == "ready" and ready["database"] == "ok"
            cli = lambda *a: smoke_support.run_cli(tmp_workdir, env, *a)  # noqa: E731
            prefix = cli("tenant", "create", "--name", "Granian Co")
            key = cli("apikey", "create", "--tenant", prefix, "--scopes", "read,write")
            h = f"{prefix}/G-1"
            r = httpx.put(
                f"{base}/api/handles/{h}",
                json={"values": [{"index": 1, "type": "URL", "data": "https://example.com/g"}]},
                headers={"Authorization": f"Bearer {key}"},
            )
            assert r.status_code == 201, r.text
            # Fresh connections: the kernel spreads them over both workers.
            for _ in range(10):
                got = httpx.get(f"{base}/api/handles/{h}")
                assert got.status_code == 200
                assert got.json()["values"][0]["data"]["value"] == "https://example.com/g"
            if _ipv6_loopback():  # the default bind is [::], IPv4 and IPv6 on one socket
                got = httpx.get(f"http://[::1]:{port}/api/handles/{h}")
                assert got.status_code == 200
            missing = httpx.get(f"{base}/api/handles/{prefix}/NOPE")
            assert missing.status_code == 404
            assert missing.headers["content-type"].startswith("application/")
            # The wire door, joined by the workers' lifespans (SO_REUSEPORT).
            out = cli("resolve", "--server", f"127.0.0.1:{wire_port}", h)
            assert "https://example.com/g" in out
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                # Beyond Granian's own kill timeout: a worker that overran is killed and
                # Granian exits, and the log (each shutdown step timed) says why.
                rc = proc.wait(timeout=GRANIAN_KILL_TIMEOUT + 15)
            except subprocess.TimeoutExpired:
                proc.kill()
                with open(log_path, errors="replace") as f:
                    tail = f.read()[-6000:]
                pytest.fail(f"no exit {GRANIAN_KILL_TIMEOUT + 15} s after SIGTERM; log:\n{tail}")
        with open(log_path, errors="replace") as f:
            log = f.read()
        assert rc == 0, log[-4000:]
        assert "Traceback" not in log, log[-4000:]
        assert "Granian shutdown completed" in log
        # 10 HTTP (+1 over IPv6) + 1 wire resolution and the miss, counted in the workers'
        # memory and flushed only by their lifespan shutdown (the flush interval is an hour).
        usage = json.loads(smoke_support.run_cli(tmp_workdir, env, "billing", "usage",
                                                 "--tenant", prefix))  # fmt: skip
        assert usage["resolutions"] == (12 if _ipv6_loopback() else 11), usage
        assert usage["not_found"] == 1, usage
