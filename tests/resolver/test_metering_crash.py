"""Metering with a real process: what was flushed is counted exactly, and a kill -9 loses
at most the last flush interval, never counting what was not served (docs/billing.md)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import httpx
import smoke_support


def _start(workdir: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = smoke_support.free_port()
    proc = subprocess.Popen(
        [smoke_support.IDNEST, "serve", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"],
        cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("idnest serve did not become ready")


def _counted(workdir: str, env: dict[str, str], prefix: str) -> int:
    """The tenant's resolutions as billing reads them (the CLI: no server needed)."""
    out = smoke_support.run_cli(workdir, env, "billing", "usage", "--tenant", prefix)
    return int(json.loads(out)["resolutions"])


def _api_counted(base: str, key: str) -> int:
    r = httpx.get(f"{base}/api/billing/usage", headers={"Authorization": f"Bearer {key}"})
    return int(r.json()["resolutions"])


def _wait_for(base: str, key: str, n: int, interval: float) -> int:
    deadline = time.monotonic() + 20
    while (got := _api_counted(base, key)) < n and time.monotonic() < deadline:
        time.sleep(interval / 2)
    return got


def _resolve(base: str, handle: str, n: int) -> list[float]:
    """When each of ``n`` resolutions was answered (successful ones only)."""
    served = []
    with httpx.Client(base_url=base, timeout=5) as c:
        for _ in range(n):
            if c.get(f"/api/handles/{handle}").status_code == 200:
                served.append(time.monotonic())
    return served


def test_kill_9_loses_at_most_one_interval_and_never_overcounts(tmp_workdir):
    interval = 0.5
    env = smoke_support.node_env(
        tmp_workdir, counter_flush_interval=str(interval), wire_enabled="false",
        scheduler_enabled="false",
    )  # fmt: skip
    prefix = smoke_support.run_cli(tmp_workdir, env, "tenant", "create", "--name", "Crash Co")
    key = smoke_support.run_cli(tmp_workdir, env, "apikey", "create", "--tenant", prefix)
    handle = f"{prefix}/CRASH-1"
    proc, base = _start(tmp_workdir, env)
    try:
        r = httpx.put(f"{base}/api/handles/{handle}", headers={"Authorization": f"Bearer {key}"},
                      json=[{"index": 1, "type": "URL", "data": "https://e.x/"}])  # fmt: skip
        assert r.status_code == 201, r.text
        served_before = len(_resolve(base, handle, 200))
        # everything served before a flush is counted, exactly
        assert _wait_for(base, key, served_before, interval) == served_before
        # more load, then kill -9 right after it, before the next flush can run
        after = _resolve(base, handle, 150)
        os.kill(proc.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    counted = _counted(tmp_workdir, env, prefix)
    served = served_before + len(after)
    assert counted <= served  # never billed for what was not served
    assert counted >= served_before  # nothing flushed before the crash is lost
    # lost: at most what was served in the last flush interval (plus a flush's own time)
    last_interval = [t for t in after if t >= killed_at - interval - 0.25]
    assert served - counted <= len(last_interval), (served, counted, len(last_interval))
