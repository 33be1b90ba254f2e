"""OID, Ecode and VAA codes: validated, under the tenant's namespace, resolvable at
/oid/, /ecode/, /vaa/ and through their Handle form."""

from __future__ import annotations

import itertools
import random

import pytest
from schemes_helpers import JSON, grant, register

pytestmark = pytest.mark.anyio
_n = itertools.count(random.randrange(10**5))


def issuer(kind: str) -> str:
    n = next(_n)
    return f"2{n:06d}X" if kind == "ecode" else f"VAA{n:06d}Q"


async def test_oid_registers_and_resolves_both_ways(client, tenant_a):
    arc = await grant(tenant_a, "oid")
    oid = f"{arc}.7.1"
    r = await register(client, tenant_a, "oid", oid, url="https://brand.example/oid")
    assert r.status_code == 201, r.text
    handle = r.json()["handle"]
    assert handle == f"{tenant_a.prefix}/oid/{oid}"
    r = await client.get(f"/oid/{oid}")
    assert r.status_code == 302 and r.headers["location"] == "https://brand.example/oid"
    r = await client.get(f"/oid/{oid}?noredirect")
    assert r.status_code == 200 and r.json()["handle"] == handle
    assert (await client.get(f"/{handle}")).headers["location"] == "https://brand.example/oid"
    assert (await client.get(f"/oid/{arc}.7.2")).status_code == 404


@pytest.mark.parametrize(
    "suffix,status,needle",
    [(".01", 400, "leading zero"), ("..1", 400, "empty"), (".x", 400, "non-negative integer")],
)
async def test_bad_oids_are_400(client, tenant_a, suffix, status, needle):
    arc = await grant(tenant_a, "oid")
    r = await register(client, tenant_a, "oid", arc + suffix)
    assert r.status_code == status and needle in r.json()["detail"]
    r = await client.get(f"/oid/{arc}{suffix}")
    assert r.status_code == 400


async def test_oids_outside_the_tenants_arc_are_403(client, tenant_a, tenant_b):
    arc_a = await grant(tenant_a, "oid")
    arc_b = await grant(tenant_b, "oid")
    assert (await register(client, tenant_a, "oid", arc_a)).status_code == 403  # the arc itself
    assert (await register(client, tenant_b, "oid", f"{arc_a}.1")).status_code == 403
    assert (await register(client, tenant_a, "oid", "1.3.6.1.4.1")).status_code == 403
    assert (await register(client, tenant_b, "oid", f"{arc_b}.1")).status_code == 201


@pytest.mark.parametrize("scheme", ["oid", "ecode", "vaa"])
async def test_restricted_values_stay_with_the_owner(client, tenant_a, tenant_b, scheme):
    ns = await grant(tenant_a, scheme, None if scheme == "oid" else issuer(scheme))
    code = f"{ns}.9" if scheme == "oid" else f"{ns}9"
    handle = (await register(client, tenant_a, scheme, code)).json()["handle"]
    secret = {"index": 5, "type": "NOTE", "data": "internal", "permissions": "1100"}
    r = await client.put(
        f"/api/handles/{handle}?index=5", json=[secret], headers={**tenant_a.auth(), **JSON}
    )
    assert r.status_code == 200, r.text

    def types(r):
        return {v["type"] for v in r.json()["values"]}

    assert "NOTE" not in types(await client.get(f"/{scheme}/{code}?publicOnly=false"))
    r = await client.get(f"/{scheme}/{code}?publicOnly=false", headers=tenant_b.auth())
    assert "NOTE" not in types(r)
    r = await client.get(f"/{scheme}/{code}?publicOnly=false", headers=tenant_a.auth())
    assert "NOTE" in types(r)


@pytest.mark.parametrize("scheme", ["ecode", "vaa"])
async def test_issuer_codes_need_review_then_codes_resolve(client, tenant_a, scheme):
    from tenants.schemes.services.namespaces import request_namespace, review_namespace

    iss = issuer(scheme)
    await request_namespace(tenant_a.id, scheme, iss, actor="t")
    code = iss + "00042"
    assert (await register(client, tenant_a, scheme, code)).status_code == 403  # pending
    await review_namespace(scheme, iss, verified=True, actor="staff:1")
    r = await register(client, tenant_a, scheme, code.lower(), url=f"https://b.example/{scheme}")
    assert r.status_code == 201, r.text
    assert r.json()["code"] == code  # upper-cased
    r = await client.get(f"/{scheme}/{code}")
    assert r.status_code == 302 and r.headers["location"] == f"https://b.example/{scheme}"
    assert (await client.get(f"/{scheme}/{iss}00043")).status_code == 404


@pytest.mark.parametrize(
    "scheme,code,needle",
    [
        ("ecode", "0ABC123", "reserved for GS1"),
        ("ecode", "9ABC123", "version '9' is not accepted"),
        ("ecode", "1AB_C", "contains '_'"),
        ("ecode", "1" + "A" * 300, "at most 256"),
        ("vaa", "VAX123", "must start with the issuing agency code VAA"),
        ("vaa", "VAA12.3", "contains '.'"),
        ("vaa", "VAA" + "1" * 60, "at most 50"),
    ],
)
async def test_bad_ecode_and_vaa_are_400(client, tenant_a, scheme, code, needle):
    await grant(tenant_a, scheme, issuer(scheme))
    r = await register(client, tenant_a, scheme, code)
    assert r.status_code == 400, r.text
    assert needle in r.json()["detail"]


@pytest.mark.parametrize("scheme", ["ecode", "vaa"])
async def test_codes_under_another_tenants_issuer_are_403(client, tenant_a, tenant_b, scheme):
    iss = await grant(tenant_a, scheme, issuer(scheme))
    await grant(tenant_b, scheme, issuer(scheme))
    r = await register(client, tenant_b, scheme, iss + "1")
    assert r.status_code == 403
    assert (await register(client, tenant_a, scheme, iss)).status_code == 403  # not strictly under
