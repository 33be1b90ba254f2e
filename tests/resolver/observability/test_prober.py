"""The prober through the real command: every door, IPv4 and IPv6, recorded; the monthly
report then counts the rounds; a maintenance window makes a failed round maintenance."""

from __future__ import annotations

import subprocess

import smoke_support


def test_probe_every_door_on_both_families_then_report(tmp_workdir: str) -> None:
    wire = smoke_support.free_port()
    env = smoke_support.node_env(
        tmp_workdir, wire_port=str(wire), scheduler_enabled="false", prober_timeout="1"
    )
    prefix = smoke_support.run_cli(tmp_workdir, env, "tenant", "create", "--name", "Probe Co")
    with smoke_support.serving(tmp_workdir, env, "--host", "::") as base:
        port = base.rsplit(":", 1)[1]
        env["IDNEST_PORT"] = port
        out = smoke_support.run_cli(tmp_workdir, env, "probe", "--record")
        rows = [line.split("\t") for line in out.splitlines()]
        got = {(door, family, ok) for door, family, ok, *_ in rows}
        doors = ("rest", "proxy", "gs1", "wire-udp", "wire-tcp")
        assert got == {(d, f, "True") for d in doors for f in ("ipv4", "ipv6")}, out
        assert all(f"0.NA/{prefix}" for _ in rows)
    # The server is gone: a round now fails on every door (exit status 1), and is recorded.
    failed = subprocess.run(
        [smoke_support.IDNEST, "probe", "--record"], cwd=tmp_workdir, env=env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert failed.returncode == 1 and "False" in failed.stdout
    report = smoke_support.run_cli(tmp_workdir, env, "report", "monthly")
    assert "availability (可用性): 50.0000% over 2 probe rounds (1 down" in report, report
