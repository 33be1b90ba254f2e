"""kill -9 during an export and during an import, on real `idnest` processes sharing the
test run's database: nothing is half-written (no archive under the final name; no
tenant, no row), and a rerun completes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.tenancy import tenant_transaction
from tenants.identifiers.tables import Identifier
from tenants.ownership.services import archive
from tenants.ownership.services.erasure import erase_tenant, release_prefix

IDNEST = str(Path(sys.executable).with_name("idnest"))
ROWS = 40_000
pytestmark = pytest.mark.anyio


async def _seed(tenant_id: int, prefix: str) -> None:
    now = datetime.now(UTC)
    values = json.dumps([{"index": 1, "type": "URL", "data": {"format": "string", "value": "x"}}])
    async with tenant_transaction(tenant_id):
        for start in range(0, ROWS, 2000):
            rows = [
                Identifier(
                    tenant_id=tenant_id, handle=f"{prefix}/K-{i}", handle_key=f"{prefix}/k-{i}",
                    values=values, search_text=f"{prefix}/k-{i}", created_at=now, updated_at=now,
                )
                for i in range(start, start + 2000)
            ]  # fmt: skip
            await Identifier.insert(*rows).run()


def _env() -> dict[str, str]:
    # The same settings as this test run: same database (or SQLite file) and secret key.
    return {**os.environ, "IDNEST_LOG_LEVEL": "WARNING"}


def _kill_when(cmd: list[str], cwd: Path, marker: str) -> None:
    """Start ``cmd``, SIGKILL it once a progress line on its stderr shows ``marker`` and
    at least 5,000 rows done (work well under way, far from done)."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=_env(), stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    for line in proc.stderr:
        words = line.split()
        if marker in line and len(words) > 1 and words[1].isdigit() and int(words[1]) >= 5000:
            break
        assert time.monotonic() < deadline, "no progress shown in 60 s"
    assert proc.poll() is None, "finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def _run(cmd: list[str], cwd: Path) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


async def test_kill_9_during_export_and_import_then_rerun(client, tenant_a, tmp_path):
    from tenants.accounts.services.tenants import find_by_prefix

    await _seed(tenant_a.id, tenant_a.prefix)
    out = tmp_path / "a.tar.gz"
    cmd = [IDNEST, "export", "--tenant", tenant_a.prefix, "--out", str(out)]
    _kill_when(cmd, tmp_path, "exported")
    assert not out.exists(), "a killed export left an archive under the final name"
    _run(cmd, tmp_path)
    manifest = archive.verify(out).manifest
    rows = {f["name"]: f["rows"] for f in manifest["files"]}
    assert rows["identifiers.ndjson"] == ROWS
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".export-")] == []

    await erase_tenant(tenant_a.prefix, actor="test", reason="free the prefix for the import")
    await release_prefix(tenant_a.prefix, actor="test", reason="free the prefix for the import")
    _kill_when([IDNEST, "import", str(out)], tmp_path, "rows of identifiers")
    assert await find_by_prefix(tenant_a.prefix) is None, "a killed import left its tenant"
    assert "imported" in _run([IDNEST, "import", str(out)], tmp_path)
    again = await find_by_prefix(tenant_a.prefix)
    assert again is not None
    async with tenant_transaction(again.id, write=False):
        assert await Identifier.count().where(Identifier.tenant_id == again.id).run() == ROWS
