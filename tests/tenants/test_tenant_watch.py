"""On the embedded default (no Redis), a tenant changed by the CLI in another process is
seen by a serving process on the very next request: an erased tenant's cached record
answers 410, a suspended one's writes stop (tenant_watch, no bus)."""

from __future__ import annotations

import os

import httpx
import pytest
from smoke_support import node_env, run_cli, serving

pytestmark = pytest.mark.skipif(
    os.environ.get("IDNEST_TEST_PROFILE", "embedded") == "postgres",
    reason="with Redis the change is published on the bus (tests/grants, tests/clients)",
)


def test_cli_erasure_is_seen_by_the_serving_process_at_once(tmp_path):
    env = node_env(str(tmp_path))
    prefix = run_cli(str(tmp_path), env, "tenant", "create", "--name", "Watch Co").splitlines()[-1]
    other = run_cli(str(tmp_path), env, "tenant", "create", "--name", "Other Co").splitlines()[-1]
    keys = {
        p: run_cli(str(tmp_path), env, "apikey", "create", "--tenant", p, "--scopes",
                   "read,write").splitlines()[-1]
        for p in (prefix, other)
    }  # fmt: skip
    with serving(str(tmp_path), env) as base:
        for p in (prefix, other):
            r = httpx.put(
                f"{base}/api/handles/{p}/W-1",
                headers={"Authorization": f"Bearer {keys[p]}"},
                json={"values": [{"index": 1, "type": "URL", "data": "https://w.example"}]},
            )
            assert r.status_code == 201, r.text
            assert httpx.get(f"{base}/api/handles/{p}/W-1").status_code == 200  # cached
        run_cli(str(tmp_path), env, "tenant", "erase", prefix, "--yes", "--reason", "test")
        assert httpx.get(f"{base}/api/handles/{prefix}/W-1").status_code == 410
        assert httpx.get(f"{base}/api/handles/{other}/W-1").status_code == 200
