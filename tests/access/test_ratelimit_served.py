"""Rate limits as a client meets them, against a real ``idnest serve`` process.

One node with small limits: anonymous REST reads past the per-source limit answer 429
problem+json with Retry-After, SNMS routes answer the SNMS envelope with 429, the SNMS
login doors stop answering a password guesser (even the right password waits), and the
wire door answers rc 3 SERVER_TOO_BUSY.
"""

from __future__ import annotations

import hashlib
import subprocess
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import smoke_support
from smoke_support import IDNEST, free_port

from resolver.wire.client import resolve_sync

pytestmark = pytest.mark.slow
# Usernames of this run: failure windows in a shared Redis outlive a run by a minute.
RUN = uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("ratelimit"))
    wire = free_port()
    env = smoke_support.node_env(
        workdir, wire_port=str(wire), scheduler_enabled="false",
        rate_limit_anonymous="20/second", rate_limit_wire="5/second",
        login_failures_per_minute="5",
    )  # fmt: skip
    with smoke_support.serving(workdir, env) as base:
        prefix = smoke_support.run_cli(workdir, env, "tenant", "create", "--name", "Limits Co")
        key = smoke_support.run_cli(
            workdir, env, "apikey", "create", "--tenant", prefix, "--scopes", "read,write"
        ).splitlines()[-1]
        r = httpx.put(
            f"{base}/api/handles/{prefix}/Q-1", headers={"Authorization": f"Bearer {key}"},
            json={"values": [{"index": 1, "type": "URL", "data": "https://example.com/q"}]},
        )  # fmt: skip
        assert r.status_code in (200, 201), r.text
        for user in (f"guessed{RUN}", f"guessedv1{RUN}"):
            subprocess.run(
                [IDNEST, "snms-user", "create", "--tenant", prefix, "--username", user],
                input="right-password-1", cwd=workdir, env=env, check=True, text=True,
                capture_output=True, timeout=60,
            )  # fmt: skip
        yield {"base": base, "prefix": prefix, "wire": wire, "key": key}


def test_anonymous_reads_past_the_limit_get_429_problem_with_retry_after(node):
    url = f"{node['base']}/api/handles/{node['prefix']}/Q-1"
    with httpx.Client() as client:
        answers = [client.get(url) for _ in range(80)]
    codes = Counter(r.status_code for r in answers)
    # 80 requests may straddle two 1-second windows: at most 40 pass
    assert codes[200] >= 1 and codes[429] >= 30, codes
    refused = next(r for r in answers if r.status_code == 429)
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["retry-after"]) <= 2
    assert refused.json()["status"] == 429 and refused.json()["responseCode"] == 3


def test_a_key_holder_is_not_held_to_the_anonymous_limit(node):
    url = f"{node['base']}/api/handles/{node['prefix']}/Q-1"
    with httpx.Client(headers={"Authorization": f"Bearer {node['key']}"}) as client:
        codes = Counter(client.get(url).status_code for _ in range(60))
    assert codes == {200: 60}


def test_snms_routes_answer_the_snms_envelope(node):
    url = f"{node['base']}/identityv2/data/detail?handle={node['prefix']}/Q-1"
    with httpx.Client() as client:
        answers = [client.get(url) for _ in range(60)]
    refused = [r for r in answers if r.status_code == 429]
    assert refused, Counter(r.status_code for r in answers)
    assert refused[0].json()["status"] == -2 and "retry" in refused[0].json()["message"]
    assert int(refused[0].headers["retry-after"]) >= 1


def _v1(password: str) -> str:
    day = datetime.now(timezone(timedelta(hours=8))).date().isoformat()
    return hashlib.sha256(
        (hashlib.sha256(password.encode()).hexdigest() + day).encode()
    ).hexdigest()


@pytest.mark.parametrize(("path", "user", "right"), [
    ("/identity/token", f"guessed{RUN}", "right-password-1"),
    ("/identity/token/v1", f"guessedv1{RUN}", _v1("right-password-1")),
])  # fmt: skip
def test_login_doors_stop_a_guesser(node, path, user, right):
    url = node["base"] + path
    time.sleep(1.1)  # a fresh anonymous window: what refuses below is the login throttle
    with httpx.Client() as client:
        ok = client.post(url, json={"username": user, "password": right})
        assert ok.json()["status"] == 1, ok.text  # the right password works at first
        answers = [
            client.post(url, json={"username": user, "password": f"guess-{i}"}) for i in range(25)
        ]
        # five wrong passwords are checked, then every guess is refused unchecked
        checked = [r for r in answers if "wrong username or password" in r.text]
        throttled = [r for r in answers if "failed attempts" in r.text]
        assert len(checked) == 5 and throttled, [r.text for r in answers]
        assert all(r.status_code == 429 for r in answers[5:])
        assert throttled[0].status_code == 429 and throttled[0].json()["status"] == -2
        assert int(throttled[0].headers["retry-after"]) >= 1
        # while throttled the right password is not even looked at
        time.sleep(1.1)
        again = client.post(url, json={"username": user, "password": right})
        assert again.status_code == 429 and "failed attempts" in again.text


def test_the_wire_door_answers_server_too_busy(node):
    handle = f"{node['prefix']}/Q-1"
    rcs = Counter(
        resolve_sync(handle, server=("127.0.0.1", node["wire"]), timeout=3)[0] for _ in range(20)
    )
    assert rcs[1] >= 1 and rcs[3] >= 10, rcs
    tcp = Counter(
        resolve_sync(handle, server=("127.0.0.1", node["wire"]), transport="tcp")[0]
        for _ in range(20)
    )
    assert tcp[3] >= 10, tcp
