"""Browser tests: Playwright for Python driving Debian's chromium against `idnest serve`.

They run in the embedded profile only (a real server in a subprocess with its own
./var/), and are skipped elsewhere to save time. Screenshots of the key pages go to
tests/e2e/screenshots/ (git-ignored).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from e2e_support import ARGS, CHROMIUM, PROJECT, SHOTS, Server, free_port


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = ""
    if os.environ.get("IDNEST_TEST_PROFILE", "embedded") != "embedded":
        reason = "browser tests run in the embedded profile only"
    elif not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing (apt-get install -y chromium)"
    else:
        try:
            import playwright  # noqa: F401
        except ImportError:
            reason = "playwright is not installed (pip install playwright)"
    if not reason:
        return
    if os.environ.get("CI") and "embedded profile only" not in reason:
        raise RuntimeError(f"CI requires the browser tests: {reason}")
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    work = Path(tempfile.mkdtemp(prefix="idnest-e2e-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDNEST_")}
    env.update(
        {
            "PYTHONPATH": str(PROJECT),
            "IDNEST_VAR_DIR": str(work / "var"),
            "IDNEST_NODE_PREFIX": "88.100",
            "IDNEST_PUBLIC_BASE_URL": base,
            # Cookies stay Secure (the default): Chromium accepts them from http://127.0.0.1.
            "IDNEST_LOG_LEVEL": "WARNING",
        }
    )
    log = open(work / "serve.log", "w")  # noqa: SIM115 - closed in teardown
    proc = subprocess.Popen(
        [sys.executable, "-m", "portal.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=work,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError((work / "serve.log").read_text()[-2000:])
            time.sleep(0.2)
        else:
            raise RuntimeError("idnest serve did not become healthy")
        yield Server(base, work, env)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()
