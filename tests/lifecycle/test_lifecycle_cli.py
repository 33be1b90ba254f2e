"""``idnest handle status``: shows and changes an identifier's status from the command
line (a separate process, as an operator runs it), refusing bad input with rc 2."""

from __future__ import annotations

import subprocess

import smoke_support
from smoke_support import IDNEST


def _cli(workdir: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([IDNEST, *args], cwd=workdir, env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip


def test_the_cli_refuses_unknown_handles_and_statuses(tmp_workdir):
    env = smoke_support.node_env(tmp_workdir)
    prefix = smoke_support.run_cli(tmp_workdir, env, "tenant", "create", "--name", "CLI Co")
    shown = _cli(tmp_workdir, env, "handle", "status", f"{prefix}/NOPE")
    assert shown.returncode == 2 and "does not exist" in shown.stderr
    out = _cli(tmp_workdir, env, "handle", "status", f"{prefix}/X", "--status", "gone")
    assert out.returncode == 2 and "status must be one of" in out.stderr, out.stderr
    out = _cli(tmp_workdir, env, "handle", "status", "77.1/X", "--status", "revoked")
    assert out.returncode == 2 and "Traceback" not in out.stderr


def test_the_cli_changes_a_registered_record(tmp_workdir):
    import json
    import urllib.request

    env = smoke_support.node_env(tmp_workdir)
    prefix = smoke_support.run_cli(tmp_workdir, env, "tenant", "create", "--name", "CLI Two")
    key = smoke_support.run_cli(tmp_workdir, env, "apikey", "create", "--tenant", prefix)
    h = f"{prefix}/CLI-1"
    with smoke_support.serving(tmp_workdir, env) as base:
        body = json.dumps([{"index": 1, "type": "URL", "data": "https://example.com/cli"}])
        req = urllib.request.Request(
            f"{base}/api/handles/{h}", data=body.encode(), method="PUT",
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )  # fmt: skip
        assert urllib.request.urlopen(req, timeout=10).status == 201
        out = _cli(tmp_workdir, env, "handle", "status", h, "--status", "revoked",
                   "--reason", "recalled")  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert "status: revoked" in out.stdout and "reason: recalled" in out.stdout
        shown = _cli(tmp_workdir, env, "handle", "status", h)
        assert "state: revoked" in shown.stdout and "since: " in shown.stdout
        out = _cli(tmp_workdir, env, "handle", "status", h, "--status", "active")
        assert out.returncode == 2 and "final" in out.stderr
