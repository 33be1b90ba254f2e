"""A node rebuilt from its escrow alone (``idnest escrow restore``), in real processes:
every identifier resolves as it did, deleted ones are gone; a run killed with SIGKILL
leaves nothing half-written and the rerun completes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from escrow_support import KEY, delete, escrow_settings, put_url
from smoke_support import IDNEST, empty_node, node_env, run_cli, serving

pytestmark = pytest.mark.anyio
PROFILE = os.environ.get("IDNEST_TEST_PROFILE", "embedded")


async def test_restored_node_resolves_every_identifier_and_not_the_deleted(
    client, tenant_a, tenant_b, settings, tmp_path
):
    from tenants.accounts.services.tenants import set_status
    from tenants.escrow.services import sets

    s = escrow_settings(settings)
    handles = [f"{tenant_a.prefix}/R-{n}" for n in range(1, 6)] + [f"{tenant_b.prefix}/泵-1"]
    for n, h in enumerate(handles):
        await put_url(client, tenant_a if h.startswith(tenant_a.prefix + "/") else tenant_b, h,
                      f"https://example.com/r/{n}")  # fmt: skip
    await delete(client, tenant_a, handles[1])
    await sets.run(s, full=True, out=tmp_path / "escrow")
    # A DIFF on top: a create, an update, a delete and a prefix status change.
    await put_url(client, tenant_a, f"{tenant_a.prefix}/R-new", "https://example.com/r/new")
    await put_url(client, tenant_a, handles[0], "https://example.com/r/changed")
    await delete(client, tenant_a, handles[2])
    await set_status(tenant_b.prefix, "suspended", actor="test", reason="escrow test")
    await set_status(tenant_b.prefix, "active", actor="test", reason="escrow test")
    await sets.run(s, out=tmp_path / "escrow")
    live = [h for h in handles if h not in (handles[1], handles[2])] + [f"{tenant_a.prefix}/R-new"]
    before = {h: (await client.get(f"/api/handles/{h}")).json() for h in live}
    assert all(b["responseCode"] == 1 for b in before.values())

    work = tmp_path / "restored"
    work.mkdir()
    with empty_node(work, escrow_key=KEY) as env:
        out = run_cli(str(work), env, "escrow", "restore", str(tmp_path / "escrow"))
        assert "restored from 2 set(s)" in out
        again = subprocess.run(
            [IDNEST, "escrow", "restore", str(tmp_path / "escrow")],
            cwd=work, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert again.returncode != 0 and "empty database" in again.stderr
        assert tenant_b.prefix in run_cli(str(work), env, "tenant", "list")
        listing = run_cli(str(work), env, "tenant", "list")
        assert f"{tenant_b.prefix}\tactive" in listing
        with serving(str(work), env) as base:
            for h, body in before.items():
                r = httpx.get(f"{base}/api/handles/{h}", timeout=60)
                assert r.status_code == 200 and r.json() == body, h
            for h in (handles[1], handles[2]):
                assert httpx.get(f"{base}/api/handles/{h}", timeout=60).status_code == 404


def _seed(workdir: Path, env: dict[str, str], count: int) -> str:
    prefix = run_cli(str(workdir), env, "tenant", "create", "--name", "Kill Nine").splitlines()[-1]
    db = sqlite3.connect(workdir / "var" / "idnest.sqlite3")
    with db:
        (tenant,) = db.execute("SELECT id FROM tenants WHERE prefix = ?", (prefix,)).fetchone()
        values = '[{"index":1,"type":"URL","data":{"format":"string","value":"https://e.x/%d"}}]'
        db.executemany(
            'INSERT INTO identifiers (tenant_id, handle, handle_key, "values", created_at, '
            "updated_at) VALUES (?, ?, ?, ?, '2026-12-01 00:00:00+00:00', "
            "'2026-12-01 00:00:00+00:00')",
            [(tenant, f"{prefix}/K-{n}", f"{prefix}/k-{n}", values % n) for n in range(count)],
        )
    db.close()
    return prefix


def test_kill_9_during_an_escrow_run_then_rerun_completes(tmp_path):
    if PROFILE == "postgres":
        pytest.skip("the process and file steps are the same on both profiles; lean")
    work, out = tmp_path / "node", tmp_path / "escrow"
    work.mkdir()
    env = node_env(str(work), escrow_key=KEY)
    _seed(work, env, 60_000)
    proc = subprocess.Popen(
        [IDNEST, "escrow", "run", "--full", "--out", str(out)],
        cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not any(p.name.startswith(".tmp-") for p in out.glob("*")) and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not [p for p in out.iterdir() if not p.name.startswith(".tmp-")]

    path = Path(run_cli(str(work), env, "escrow", "run", "--full", "--out", str(out)))
    assert sorted(p.name for p in out.iterdir()) == [path.name]
    restored = tmp_path / "restored"
    restored.mkdir()
    line = run_cli(str(restored), node_env(str(restored), escrow_key=KEY),
                   "escrow", "restore", str(out))  # fmt: skip
    assert "identifiers 60000" in line
