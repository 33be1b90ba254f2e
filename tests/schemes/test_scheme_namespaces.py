"""Namespaces: claimed by the tenant, verified by staff, unique across the node."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from schemes_helpers import JSON, fresh_gcp, grant, gtin, register

pytestmark = pytest.mark.anyio


async def claim(client, t, scheme, value=None, key=None):
    body = {"scheme": scheme} if value is None else {"scheme": scheme, "value": value}
    return await client.post("/api/v1/namespaces", json=body, headers={**t.auth(key), **JSON})


async def test_gs1_prefix_is_pending_until_staff_verify(client, tenant_a):
    from tenants.schemes.services.namespaces import review_namespace

    gcp = fresh_gcp()
    r = await claim(client, tenant_a, "gs1", gcp)
    assert r.status_code == 201 and r.json()["status"] == "pending"
    assert (await register(client, tenant_a, "gs1", f"/01/{gtin(gcp)}")).status_code == 403
    await review_namespace("gs1", gcp, verified=True, actor="staff:1")
    listed = (await client.get("/api/v1/namespaces", headers=tenant_a.auth())).json()
    assert {"scheme": "gs1", "value": gcp, "status": "verified"}.items() <= listed["namespaces"][
        0
    ].items()
    assert (await register(client, tenant_a, "gs1", f"/01/{gtin(gcp)}")).status_code == 201


@pytest.mark.parametrize(
    "scheme,value,needle",
    [
        ("gs1", "69A1234", "digits only"),
        ("gs1", "695", "4 to 12 digits"),
        ("oid", "1.2.03", "leading zero"),
        ("oid", "1.3.6.1", "not under this node's arc"),
        ("ecode", "0123", "reserved for GS1"),
        ("ecode", "1AB-C", "contains '-'"),
        ("vaa", "VAB123", "must start with"),
        ("vaa", "VAA", "nothing after VAA"),
        ("isbn", "978", "unknown scheme"),
    ],
)
async def test_bad_namespace_values_are_400(client, tenant_a, scheme, value, needle):
    r = await claim(client, tenant_a, scheme, value)
    assert r.status_code == 400, r.text
    assert needle in r.json()["detail"]


async def test_a_prefix_belongs_to_one_tenant(client, tenant_a, tenant_b):
    gcp = fresh_gcp()
    assert (await claim(client, tenant_a, "gs1", gcp)).status_code == 201
    assert (await claim(client, tenant_a, "gs1", gcp)).status_code == 201  # idempotent
    r = await claim(client, tenant_b, "gs1", gcp)
    assert r.status_code == 409
    r = await claim(client, tenant_b, "gs1", gcp + "1")  # would share A's codes
    assert r.status_code == 409
    r = await claim(client, tenant_b, "gs1", gcp[:-1])
    assert r.status_code == 409
    listed = (await client.get("/api/v1/namespaces", headers=tenant_b.auth())).json()
    assert listed["namespaces"] == []


async def test_a_rejected_claim_passes_to_the_real_owner(client, tenant_a, tenant_b):
    from tenants.schemes.services.namespaces import review_namespace

    gcp = fresh_gcp()
    await claim(client, tenant_a, "gs1", gcp)
    await review_namespace("gs1", gcp, verified=False, actor="staff:1", note="not theirs")
    r = await claim(client, tenant_b, "gs1", gcp)
    assert r.status_code == 201 and r.json()["status"] == "pending"
    listed = (await client.get("/api/v1/namespaces", headers=tenant_a.auth())).json()
    assert listed["namespaces"] == []


async def test_oid_sub_arc_is_allocated_at_once(client, tenant_a, tenant_b):
    r = await claim(client, tenant_a, "oid")
    assert r.status_code == 201
    arc = r.json()["value"]
    assert r.json()["status"] == "verified" and arc.startswith("2.999.")
    assert (await claim(client, tenant_a, "oid")).json()["value"] == arc  # one per tenant
    other = (await claim(client, tenant_b, "oid")).json()["value"]
    assert other != arc and other.startswith("2.999.")
    r = await claim(client, tenant_b, "oid", arc + ".5")  # inside A's arc
    assert r.status_code == 409


async def test_claiming_needs_credentials_and_write_scope(client, tenant_a):
    r = await client.post("/api/v1/namespaces", json={"scheme": "oid"}, headers=JSON)
    assert r.status_code == 401
    assert (await claim(client, tenant_a, "oid", key=tenant_a.read_key)).status_code == 403
    assert (await client.get("/api/v1/namespaces")).status_code == 401


async def test_staff_cli_adds_verifies_and_lists(client, tenant_a):
    gcp = fresh_gcp()
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    cli = [sys.executable, "-m", "portal.cli", "namespace"]

    def run(*args: str) -> str:
        done = subprocess.run([*cli, *args], capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    out = run("add", "--tenant", tenant_a.prefix, "--scheme", "gs1", "--value", gcp)
    assert out.split() == [tenant_a.prefix, "gs1", gcp, "pending"]
    assert gcp in run("list", "--status", "pending")
    out = run("verify", "--scheme", "gs1", "--value", gcp)
    assert out.split()[-1] == "verified"
    assert await grant(tenant_a, "gs1", gcp) == gcp
