"""A revocation takes effect on the next request in every process: two real ``idnest
serve`` processes on one database (and, on the postgres profile, one Redis bus, where
each caches the grant set), the grant made and revoked through the first and by the
CLI, read through the second."""

from __future__ import annotations

import httpx
from grants_support import JSON, records
from smoke_support import node_env, run_cli, serving


def _seen(base: str, key: str, handle: str) -> set[str]:
    r = httpx.get(f"{base}/api/handles/{handle}?publicOnly=false",
                  headers={"Authorization": f"Bearer {key}"}, timeout=10)  # fmt: skip
    assert r.status_code == 200, r.text
    return {str(v["data"]["value"]) for v in r.json()["values"]
            if str(v["data"]["value"]).startswith(("cost-", "mail-"))}  # fmt: skip


def test_a_revocation_reaches_every_process_at_once(tmp_workdir):
    env = node_env(tmp_workdir)
    a = run_cli(tmp_workdir, env, "tenant", "create", "--name", "Owner Pumps").splitlines()[-1]
    b = run_cli(tmp_workdir, env, "tenant", "create", "--name", "Partner").splitlines()[-1]
    ka = run_cli(tmp_workdir, env, "apikey", "create", "--tenant", a).splitlines()[-1]
    kb = run_cli(tmp_workdir, env, "apikey", "create", "--tenant", b).splitlines()[-1]
    with serving(tmp_workdir, env) as first, serving(tmp_workdir, env) as second:
        auth = {"Authorization": f"Bearer {ka}", **JSON}
        values = records(a)["P-1"]
        r = httpx.put(f"{first}/api/handles/{a}/P-1", json={"values": values}, headers=auth)
        assert r.status_code in (200, 201), r.text
        assert _seen(second, kb, f"{a}/P-1") == set()
        # Made through the first process: the second sees it on its next request.
        r = httpx.post(f"{first}/api/grants", json={"to": b, "pattern": "P-*"}, headers=auth)
        gid = r.json()["id"]
        for _ in range(3):  # the second process now holds the grant set, where it caches
            assert _seen(second, kb, f"{a}/P-1") == {"cost-P-1", "mail-P-1"}
        r = httpx.delete(f"{first}/api/grants/{gid}", headers=auth)
        assert r.status_code == 200
        assert _seen(second, kb, f"{a}/P-1") == set()
        # The CLI is a third process: its grant and its revocation reach both at once.
        out = run_cli(tmp_workdir, env, "grant", "create", "--tenant", a, "--to", b,
                      "--pattern", "P-*")  # fmt: skip
        gid = out.splitlines()[-1]
        assert _seen(first, kb, f"{a}/P-1") == _seen(second, kb, f"{a}/P-1") == {
            "cost-P-1", "mail-P-1"}  # fmt: skip
        run_cli(tmp_workdir, env, "grant", "revoke", "--tenant", a, gid)
        assert _seen(first, kb, f"{a}/P-1") == _seen(second, kb, f"{a}/P-1") == set()
