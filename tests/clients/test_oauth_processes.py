"""Revocation across real processes: two ``idnest serve`` processes, a token issued by
one and used on the other. With Redis (the postgres profile) a revocation through one
process stops the token on the other at once; on the embedded default the CLI revokes
from its own process with no shared bus, and the token stops within
``IDNEST_AUTH_CACHE_TTL`` seconds."""

from __future__ import annotations

import os
import time

import httpx
import pytest
from smoke_support import free_port, node_env, run_cli, serving

pytestmark = pytest.mark.slow
POSTGRES = os.environ.get("IDNEST_TEST_PROFILE") == "postgres"
TTL = 2.0


def _token(base: str, cid: str, secret: str) -> str:
    r = httpx.post(
        f"{base}/oauth/token", data={"grant_type": "client_credentials"}, auth=(cid, secret)
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def test_a_revoked_clients_token_stops_in_every_process(tmp_workdir):
    import json

    issuer = f"http://127.0.0.1:{free_port()}"  # one issuer for the node, as behind a proxy
    env = node_env(
        tmp_workdir, public_base_url=issuer, auth_cache_ttl=str(TTL), wire_enabled="false",
        scheduler_enabled="false",
    )  # fmt: skip
    prefix = run_cli(tmp_workdir, env, "tenant", "create", "--name", "Procs").splitlines()[-1]
    key = run_cli(tmp_workdir, env, "apikey", "create", "--tenant", prefix).splitlines()[-1]
    made = json.loads(run_cli(tmp_workdir, env, "client", "create", "--tenant", prefix,
                              "--name", "erp", "--scopes", "read"))  # fmt: skip
    with serving(tmp_workdir, env) as one, serving(tmp_workdir, env) as two:
        tok = _token(one, made["client_id"], made["client_secret"])
        url = f"/api/handles?prefix={prefix}"
        auth = {"Authorization": f"Bearer {tok}"}
        for base in (one, two):
            assert httpx.get(base + url, headers=auth).status_code == 200
        start = time.monotonic()
        if POSTGRES:
            r = httpx.delete(f"{one}/api/clients/{made['client_id']}",
                             headers={"Authorization": f"Bearer {key}"})  # fmt: skip
            assert r.status_code == 204
            # The bus carried it: the other process refuses on the very next request.
            assert httpx.get(two + url, headers=auth).status_code == 401
            assert httpx.get(one + url, headers=auth).status_code == 401
            return
        run_cli(tmp_workdir, env, "client", "revoke", "--tenant", prefix, made["client_id"])
        codes: dict[str, int] = {}
        while time.monotonic() - start < TTL + 3:
            codes = {b: httpx.get(b + url, headers=auth).status_code for b in (one, two)}
            if set(codes.values()) == {401}:
                break
            time.sleep(0.1)
        elapsed = time.monotonic() - start
        assert set(codes.values()) == {401}, codes
        assert elapsed <= TTL + 1.5, elapsed
