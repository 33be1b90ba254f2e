"""End to end through the real command: `idnest serve` in a subprocess, the CLI beside it,
HTTP over a socket. In the postgres profile the server runs two Hypercorn workers on one
port, so consecutive requests land on different processes and freshness is tested across
them through Redis."""

from __future__ import annotations

import os
import re
import subprocess

import httpx
import pytest
import smoke_support

IDNEST = smoke_support.IDNEST
POSTGRES = os.environ.get("IDNEST_TEST_PROFILE") == "postgres"


def _env(workdir: str) -> dict[str, str]:
    return smoke_support.node_env(workdir)


def _cli(workdir: str, *args: str) -> str:
    return smoke_support.run_cli(workdir, _env(workdir), *args)


@pytest.fixture
def server(tmp_workdir: str):
    workers = "2" if POSTGRES else "1"
    with smoke_support.serving(tmp_workdir, _env(tmp_workdir), "--workers", workers) as base:
        yield base, tmp_workdir


def test_cli_and_http_end_to_end(server):
    base, workdir = server
    prefix = _cli(workdir, "tenant", "create", "--name", "Smoke Co").strip()
    assert prefix.startswith("88.100.") and "\n" not in prefix
    key = _cli(workdir, "apikey", "create", "--tenant", prefix, "--scopes", "read,write").strip()
    assert key.startswith("idn_")
    assert prefix in _cli(workdir, "tenant", "list")
    h = f"{prefix}/SMOKE-1"
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as c:
        r = c.put(
            f"/api/handles/{h}",
            json={"values": [{"index": 1, "type": "URL", "data": "https://example.com/v0"}]},
        )
        assert r.status_code == 201
    # Fresh connections: with two workers, consecutive requests reach both processes.
    for n in range(1, 11):
        r = httpx.put(
            f"{base}/api/handles/{h}?index=1",
            json=[{"index": 1, "type": "URL", "data": f"https://example.com/v{n}"}],
            headers={"Authorization": f"Bearer {key}"},
        )
        assert r.status_code == 200
        for _ in range(3):
            got = httpx.get(f"{base}/api/handles/{h}").json()
            assert got["values"][-1]["data"]["value"] == f"https://example.com/v{n}" or any(
                v["data"]["value"] == f"https://example.com/v{n}" for v in got["values"]
            )
            assert f'v{n - 1}"' not in str(got)
    r = httpx.get(f"{base}/{h}", follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"] == "https://example.com/v10"


def test_demo_prints_a_working_key_and_curl_lines(server):
    base, workdir = server
    out = _cli(workdir, "demo", "--base-url", base)
    key = next(line.split("=", 1)[1] for line in out.splitlines() if "IDNEST_KEY=" in line)
    assert "curl" in out
    first = next(line.split()[-1] for line in out.splitlines() if line.startswith("curl -s http"))
    r = httpx.get(first)
    assert r.status_code == 200 and r.json()["responseCode"] == 1
    r = httpx.get(
        f"{base}/api/handles?prefix={first.split('/api/handles/')[1].split('/')[0]}",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert r.status_code == 200 and r.json()["totalCount"] == 3
    # The printed console login works over plain HTTP, as from another machine on the LAN
    # (embedded: cookies follow the scheme); where cookies stay Secure-only, the refusal
    # says why instead of a bare 403.
    email = next(line.split()[-1] for line in out.splitlines() if "#   email" in line)
    password = next(line.split()[-1] for line in out.splitlines() if "#   password" in line)
    assert f"{base}/login" in out
    with httpx.Client(base_url=base) as browser:
        form = browser.get("/login")
        assert "secure" not in form.headers["set-cookie"].lower() or POSTGRES
        token = re.search(r'name="_csrf_token" value="([^"]+)"', form.text).group(1)
        r = browser.post(
            "/login", data={"email": email, "password": password, "_csrf_token": token}
        )
        if POSTGRES:
            assert r.status_code == 403 and "HTTPS" in r.text
        else:
            assert r.status_code == 303 and r.headers["location"].startswith("/console/88.100.")
            console = browser.get(r.headers["location"])
            assert console.status_code == 200 and "PUMP-000123" in console.text


def test_staff_create_reads_password_from_stdin(server):
    _, workdir = server
    out = subprocess.run(
        [IDNEST, "staff", "create", "--email", "ops@example.com"],
        input="a-long-password\n",
        cwd=workdir,
        env=_env(workdir),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    again = subprocess.run(
        [IDNEST, "staff", "create", "--email", "ops@example.com"],
        input="a-long-password\n",
        cwd=workdir,
        env=_env(workdir),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 2 and "already exists" in again.stderr
