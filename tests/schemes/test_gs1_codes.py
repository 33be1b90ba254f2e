"""Registering GS1 keys: validated by GS1 rules, under the tenant's verified company
prefix, bound to a Handle record, and resolvable in both forms."""

from __future__ import annotations

import pytest
from schemes_helpers import JSON, add_link, fresh_gcp, gtin, register, wrong_check

from core.schemes.gs1 import gs1_check_digit

pytestmark = pytest.mark.anyio


def _full(body: str) -> str:
    return body + str(gs1_check_digit(body))


async def test_gtin13_is_normalised_and_resolves_as_handle_and_digital_link(
    client, tenant_a, gs1_a
):
    g = gtin(gs1_a)
    r = await register(client, tenant_a, "gs1", f"/01/{g[1:]}", url="https://brand.example/p1")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["code"] == f"/01/{g}"
    assert body["handle"] == f"{tenant_a.prefix}/gs1/01/{g}"
    # the Handle form
    rec = (await client.get(f"/api/handles/{body['handle']}")).json()
    by_type = {v["type"]: v["data"]["value"] for v in rec["values"]}
    assert by_type["URL"] == "https://brand.example/p1"
    assert by_type["GS1"] == f"/01/{g}"
    r = await client.get(f"/{body['handle']}")
    assert r.status_code == 302 and r.headers["location"] == "https://brand.example/p1"
    # the GS1 Digital Link form
    r = await client.get(f"/01/{g}")
    assert r.status_code == 307 and r.headers["location"] == "https://brand.example/p1"


async def test_handle_url_follows_the_default_link(client, tenant_a, gs1_a):
    g = gtin(gs1_a)
    r = await register(client, tenant_a, "gs1", f"/01/{g}", url="https://brand.example/old")
    handle = r.json()["handle"]
    r = await add_link(client, tenant_a, f"/01/{g}", "https://brand.example/new",
                       link_type="gs1:homepage", is_default=True)  # fmt: skip
    assert r.status_code == 201
    r = await client.get(f"/{handle}")
    assert r.headers["location"] == "https://brand.example/new"


async def test_a_handle_the_tenant_names(client, tenant_a, gs1_a):
    g = gtin(gs1_a)
    h = f"{tenant_a.prefix}/RICE-1"
    r = await register(client, tenant_a, "gs1", f"/01/{g}", handle=h)
    assert r.status_code == 201 and r.json()["handle"] == h
    r = await register(client, tenant_a, "gs1", f"/01/{gtin(gs1_a, 2)}", handle="88.999/X")
    assert r.status_code in (400, 403)
    r = await register(client, tenant_a, "gs1", f"/01/{gtin(gs1_a, 3)}", handle=h)
    assert r.status_code == 409 and "already bound" in r.json()["detail"]


@pytest.mark.parametrize("kind", ["sscc", "gln", "grai", "giai", "lot", "serial"])
async def test_every_key_type_registers(client, tenant_a, gs1_a, kind):
    g = gtin(gs1_a)
    sscc = "0" + gs1_a + "0000001"
    gln = gs1_a + "123"
    grai = gs1_a + "012"
    code = {
        "sscc": f"/00/{sscc}{gs1_check_digit(sscc)}",
        "gln": f"/414/{gln}{gs1_check_digit(gln)}",
        "grai": f"/8003/0{grai}{gs1_check_digit(grai)}SN1",
        "giai": f"/8004/{gs1_a}TOOL-9",
        "lot": f"/01/{g}/10/LOT-1",
        "serial": f"/01/{g}/21/S%2F1",
    }[kind]
    r = await register(client, tenant_a, "gs1", code)
    assert r.status_code == 201, r.text
    got = await client.get(f"/api/v1/schemes/gs1/codes{r.json()['code']}", headers=tenant_a.auth())
    assert got.status_code == 200 and got.json()["code"] == r.json()["code"]


@pytest.mark.parametrize(
    "make,needle",
    [
        (lambda gcp: f"/01/{wrong_check(gtin(gcp))}", "check digit should be"),
        (lambda gcp: f"/01/{gtin(gcp)[:-3]}", "GTIN must be 8, 12, 13 or 14 digits"),
        (lambda gcp: f"/01/{gtin(gcp)[:-1]}X", "digits only"),
        (
            lambda gcp: f"/00/{wrong_check(_full('0' + gcp + '0000001'))}",
            "SSCC check digit should be",
        ),
        (lambda gcp: f"/414/{wrong_check(_full(gcp + '123'))}", "GLN check digit should be"),
        (lambda gcp: f"/8003/{gcp}01201", "filler digit 0"),
        (lambda gcp: f"/01/{gtin(gcp)}/21/S/10/L", "must come before"),
        (lambda gcp: f"/01/{gtin(gcp)}/10/" + "L" * 21, "at most 20"),
        (lambda gcp: f"/253/{gcp}", "does not serve"),
    ],
)
async def test_bad_keys_are_400_with_a_message(client, tenant_a, gs1_a, make, needle):
    r = await register(client, tenant_a, "gs1", make(gs1_a))
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert needle in r.json()["detail"]


async def test_check_digit_message_names_the_right_digit(client, tenant_a):
    from tenants.schemes.services.namespaces import request_namespace, review_namespace

    await request_namespace(tenant_a.id, "gs1", "9506000", actor="t")
    await review_namespace("gs1", "9506000", verified=True, actor="t")
    r = await register(client, tenant_a, "gs1", "/01/09506000134353")
    assert r.status_code == 400
    assert "check digit should be 2" in r.json()["detail"]
    await review_namespace("gs1", "9506000", verified=False, actor="t")  # free it again


async def test_keys_outside_the_tenants_prefix_are_403(client, tenant_a, gs1_a):
    r = await register(client, tenant_a, "gs1", f"/01/{gtin(fresh_gcp())}")
    assert r.status_code == 403
    assert "not under" in r.json()["detail"]


async def test_duplicate_is_409_and_unregister_keeps_the_handle(client, tenant_a, gs1_a):
    g = gtin(gs1_a)
    r = await register(client, tenant_a, "gs1", f"/01/{g}")
    handle = r.json()["handle"]
    assert (await register(client, tenant_a, "gs1", f"/01/{g[1:]}")).status_code == 409
    r = await client.delete(f"/api/v1/schemes/gs1/codes/01/{g}", headers=tenant_a.auth())
    assert r.status_code == 200
    assert (await client.get(f"/api/handles/{handle}")).status_code == 200
    r = await client.get(f"/api/v1/schemes/gs1/codes/01/{g}", headers=tenant_a.auth())
    assert r.status_code == 404


async def test_isolation_of_codes(client, tenant_a, tenant_b, gs1_a):
    g = gtin(gs1_a)
    await register(client, tenant_a, "gs1", f"/01/{g}")
    r = await client.get(f"/api/v1/schemes/gs1/codes/01/{g}", headers=tenant_b.auth())
    assert r.status_code == 404
    r = await client.get("/api/v1/schemes/gs1/codes", headers=tenant_b.auth())
    assert r.json()["totalCount"] == 0
    r = await client.delete(f"/api/v1/schemes/gs1/codes/01/{g}", headers=tenant_b.auth())
    assert r.status_code in (403, 404)
    r = await client.get("/api/v1/schemes/gs1/codes", headers=tenant_a.auth())
    assert r.json()["totalCount"] == 1


async def test_credentials_and_scopes(client, tenant_a, gs1_a):
    body = {"code": f"/01/{gtin(gs1_a)}"}
    r = await client.post("/api/v1/schemes/gs1/codes", json=body, headers=JSON)
    assert r.status_code == 401
    r = await client.post(
        "/api/v1/schemes/gs1/codes", json=body, headers={**tenant_a.auth(tenant_a.read_key), **JSON}
    )
    assert r.status_code == 403
    r = await client.post(
        "/api/v1/schemes/gs1/codes", json={**body, "extra": 1}, headers={**tenant_a.auth(), **JSON}
    )
    assert r.status_code == 400
    r = await register(client, tenant_a, "isbn", "978")
    assert r.status_code == 400 and "unknown scheme" in r.json()["detail"]


async def test_link_changes_never_resurrect_a_deleted_record(client, tenant_a, gs1_a):
    g = gtin(gs1_a)
    handle = (await register(client, tenant_a, "gs1", f"/01/{g}")).json()["handle"]
    assert (
        await client.delete(f"/api/handles/{handle}", headers=tenant_a.auth())
    ).status_code == 200
    assert (await add_link(client, tenant_a, f"/01/{g}", "https://x.example/")).status_code == 201
    assert (await client.get(f"/api/handles/{handle}")).status_code == 404
    assert (await client.get(f"/01/{g}")).headers["location"] == "https://x.example/"
