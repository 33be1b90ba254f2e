"""A tenant manages its machine clients with its API keys (and the CLI): the secret is
shown once, changes are audited, and no other tenant sees or revokes them."""

from __future__ import annotations

import json

import pytest
from clients_support import bearer, make_client, token_for

pytestmark = pytest.mark.anyio


async def _audit(tenant_id: int) -> list[tuple[str, str]]:
    from core.tables import AuditLog
    from core.tenancy import tenant_transaction

    async with tenant_transaction(tenant_id, write=False):
        rows = (
            await AuditLog.select(AuditLog.action, AuditLog.target)
            .where(AuditLog.tenant_id == tenant_id)
            .order_by(AuditLog.id)
            .run()
        )
    return [(r["action"], r["target"]) for r in rows if r["action"].startswith("client.")]


async def test_create_list_revoke_over_the_api(local, tenant_a):
    body = {"name": "mes-line-3", "scopes": ["read", "write"], "allowed_ips": ["127.0.0.1/32"]}
    r = await local.post("/api/clients", json=body, headers=tenant_a.auth())
    assert r.status_code == 201, r.text
    made = r.json()
    cid, secret = made["client_id"], made["client_secret"]
    assert cid.startswith("idc_") and len(secret) >= 40
    assert made["client"]["allowed_ips"] == ["127.0.0.1/32"]
    r = await local.get("/api/clients", headers=tenant_a.auth(tenant_a.read_key))
    listed = r.json()["clients"]
    assert [c["client_id"] for c in listed] == [cid] and secret not in r.text
    assert listed[0]["scopes"] == ["read", "write"] and listed[0]["revoked_at"] is None
    tok = await token_for(local, type("C", (), {"basic": lambda self: (cid, secret)})())
    assert (await local.get("/api/clients", headers=bearer(tok))).status_code == 403
    r = await local.delete(f"/api/clients/{cid}", headers=tenant_a.auth(tenant_a.read_key))
    assert r.status_code == 403
    assert (await local.delete(f"/api/clients/{cid}", headers=tenant_a.auth())).status_code == 204
    r = await local.get("/api/clients", headers=tenant_a.auth())
    assert r.json()["clients"][0]["revoked_at"] is not None
    assert await _audit(tenant_a.id) == [("client.create", cid), ("client.revoke", cid)]


async def test_bad_input_is_a_400_naming_the_field(local, tenant_a):
    cases = [
        ({"name": "x", "allowed_ips": ["10.0.0.0/33"]}, "allowed_ips"),
        ({"name": "x", "scopes": ["admin"]}, "scopes"),
        ({"name": "", "scopes": ["read"]}, "name"),
        ({"name": "nul\u0000byte"}, "name"),
        ({"name": "x", "allowed_ips": ["10.0.0.1"] * 33}, "allowed_ips"),
        ({"name": "x", "extra": 1}, "extra"),
    ]
    for body, field in cases:
        r = await local.post("/api/clients", json=body, headers=tenant_a.auth())
        assert r.status_code == 400, (body, r.text)
        assert field in r.text and r.headers["content-type"].startswith("application/problem+json")
    assert (await local.post("/api/clients", json={"name": "x"})).status_code == 401


async def test_tenant_b_neither_sees_nor_revokes_a_clients(local, tenant_a, tenant_b):
    a = await make_client(tenant_a.prefix)
    r = await local.get("/api/clients", headers=tenant_b.auth())
    assert r.status_code == 200 and a.client_id not in r.text
    r = await local.delete(f"/api/clients/{a.client_id}", headers=tenant_b.auth())
    assert r.status_code == 404
    for odd in ("idc_%00", "x" * 64, "idc_" + "A" * 16):
        r = await local.delete(f"/api/clients/{odd}", headers=tenant_b.auth())
        assert r.status_code == 404, r.text
    b_token = await token_for(local, await make_client(tenant_b.prefix, scopes="read,write"))
    r = await local.delete(f"/api/clients/{a.client_id}", headers=bearer(b_token))
    assert r.status_code == 403
    # A's client still works.
    assert await token_for(local, a)


def test_cli_prints_the_json_the_contract_names(tmp_workdir):
    from smoke_support import node_env, run_cli

    env = node_env(tmp_workdir)
    prefix = run_cli(tmp_workdir, env, "tenant", "create", "--name", "CLI Co").splitlines()[-1]
    out = run_cli(
        tmp_workdir, env, "client", "create", "--tenant", prefix, "--name", "erp",
        "--scopes", "read", "--allow-ip", "10.0.0.0/8",
    )  # fmt: skip
    made = json.loads(out)
    assert set(made) == {"client_id", "client_secret"}
    listed = run_cli(tmp_workdir, env, "client", "list", "--tenant", prefix)
    assert (
        made["client_id"] in listed
        and "10.0.0.0/8" in listed
        and made["client_secret"] not in listed
    )
    run_cli(tmp_workdir, env, "client", "revoke", "--tenant", prefix, made["client_id"])
    assert "revoked" in run_cli(tmp_workdir, env, "client", "list", "--tenant", prefix)
    kid = run_cli(tmp_workdir, env, "oauth", "rotate-key")
    assert kid in run_cli(tmp_workdir, env, "oauth", "keys")
