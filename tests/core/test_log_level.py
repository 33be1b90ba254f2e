"""IDNEST_LOG_LEVEL is honoured by every logger of every process of ``idnest serve
--workers 2`` (Litestar's default config used to put each worker back at INFO)."""

from __future__ import annotations

import re
import subprocess
import time

import httpx
from smoke_support import IDNEST, free_port, node_env, run_cli


def _serve_log(tmp_path, level: str) -> str:
    work = tmp_path / level
    work.mkdir()
    env = node_env(str(work), log_level=level, wire_port=str(free_port()))
    run_cli(str(work), env, "migrate")
    port = free_port()
    proc = subprocess.Popen(
        [IDNEST, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        time.sleep(1)  # the second worker's start-up lines
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    return out


def test_warning_silences_info_in_every_worker_and_info_reaches_them(tmp_path):
    quiet = _serve_log(tmp_path, "WARNING")
    assert not re.search(r"\bINFO\b", quiet), quiet[-2000:]
    loud = _serve_log(tmp_path, "INFO")
    # Both workers start a wire listener and say so, each once, in our format.
    assert len(re.findall(r"INFO idnest\.wire: wire protocol listening", loud)) == 2, loud[-3000:]
