"""The README's pyhandle recipe, run as written with the real EUDAT client against a live
``idnest serve``: log in as 300:{prefix}/admin (pyhandle first GETs that handle), then
create, read, modify and delete a handle."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import smoke_support

ROOT = Path(__file__).resolve().parents[2]
POSTGRES = os.environ.get("IDNEST_TEST_PROFILE") == "postgres"
pytestmark = pytest.mark.slow


def readme_recipe() -> str:
    text = (ROOT / "README.md").read_text()
    m = re.search(r"<!-- pyhandle-recipe:.*?-->\n```python\n(.*?)```", text, re.S)
    assert m, "README.md has no pyhandle recipe block"
    return m.group(1)


def _env(workdir: str) -> dict[str, str]:
    return smoke_support.node_env(workdir, wire_enabled="false", scheduler_enabled="false")


def _cli(workdir: str, *args: str) -> str:
    return smoke_support.run_cli(workdir, _env(workdir), *args)


@pytest.fixture
def served(tmp_workdir: str):
    with smoke_support.serving(tmp_workdir, _env(tmp_workdir)) as base:
        yield base, tmp_workdir


def test_readme_pyhandle_recipe_runs_against_a_live_server(served):
    base, workdir = served
    prefix = _cli(workdir, "tenant", "create", "--name", "Pyhandle Co")
    key = _cli(workdir, "apikey", "create", "--tenant", prefix, "--scopes", "read,write")
    # The admin handle pyhandle looks up first resolves without ever being stored.
    r = httpx.get(f"{base}/api/handles/{prefix}/admin")
    assert r.status_code == 200 and r.json()["handle"] == f"{prefix}/admin"
    assert [v["type"] for v in r.json()["values"]] == ["HS_ADMIN"]

    script = readme_recipe().replace("http://127.0.0.1:8000", base)
    env = {**_env(workdir), "PREFIX": prefix, "KEY": key}
    run = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.strip().splitlines()
    assert lines[0] == "https://example.com/p/200"
    assert "https://example.com/p/200-v2" in lines[1] and "ops@example.com" in lines[1]
    assert lines[2] == "None"
    r = httpx.get(f"{base}/api/handles/{prefix}/PUMP-000200")
    assert r.status_code == 404

    # A wrong key is refused: pyhandle gets no write access with it.
    bad = script.replace('os.environ["KEY"]', '"idn_wrong"')
    run = subprocess.run(
        [sys.executable, "-c", bad], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode != 0
    assert httpx.get(f"{base}/api/handles/{prefix}/PUMP-000200").status_code == 404
