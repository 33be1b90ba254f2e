"""A delivery worker killed -9 mid-send (the top-level node has taken the messages, the
worker never hears so): the next process sends them again with the same event ids, and
the receiver, de-duplicating by event id, ends up with each message once, in order."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import httpx
import pytest
import smoke_support
from fakes.toplevel import FakeTopLevelNode

pytestmark = pytest.mark.slow


def _start(workdir: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = smoke_support.free_port()
    proc = subprocess.Popen(
        [smoke_support.IDNEST, "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    raise RuntimeError("idnest serve did not become ready")


def _wait(predicate, timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_killed_worker_mid_send_leaves_no_duplicate_after_dedup(tmp_workdir):
    with FakeTopLevelNode(username=None) as node:
        env = smoke_support.node_env(
            tmp_workdir, upstream_url=node.url, scheduler_enabled="true", scheduler_tick="0.2",
            outbox_lease="2", outbox_poll="0.1", outbox_run_seconds="1", upstream_timeout="60",
        )  # fmt: skip
        prefix = smoke_support.run_cli(tmp_workdir, env, "tenant", "create", "--name", "Kill Co")
        key = smoke_support.run_cli(
            tmp_workdir, env, "apikey", "create", "--tenant", prefix, "--scopes", "read,write"
        ).splitlines()[-1]
        node.mode, node.delay = "slow", 60.0  # take the messages, answer a minute later
        first, base = _start(tmp_workdir, env)
        handles = [f"{prefix}/K-{n}" for n in range(5)]
        try:
            for h in handles:
                r = httpx.put(
                    f"{base}/api/handles/{h}", headers={"Authorization": f"Bearer {key}"},
                    json={"values": [{"index": 1, "type": "URL", "data": "https://example.com/k"}]},
                )  # fmt: skip
                assert r.status_code == 201, r.text

            def mine() -> list[str]:
                return [
                    e["data"]["handle"] for e in node.of_kind("identifier") if e["tenant"] == prefix
                ]

            def taken() -> int:
                return sum(1 for e in node.events if e["tenant"] == prefix)

            # The tenant's "add" and the identifiers: whatever the first request carried.
            assert _wait(lambda: taken() >= 1), "the worker never sent anything"
        finally:
            os.killpg(first.pid, signal.SIGKILL)  # mid-send: the answer is still pending
            first.wait(10)
        node.mode = ""
        sent_before = taken()
        second, _base = _start(tmp_workdir, env)
        try:
            assert _wait(lambda: len(mine()) == len(handles)), mine()
            time.sleep(0.5)  # anything sent twice would have arrived by now
        finally:
            os.killpg(second.pid, signal.SIGKILL)
            second.wait(10)
        assert mine() == handles  # each once, in order
        # The killed worker's batch was sent again and the receiver dropped the repeats.
        assert node.duplicates >= sent_before >= 1
