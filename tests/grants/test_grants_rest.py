"""Grants on the REST door: a partner sees exactly what a live grant names, at once, and
nothing once it is revoked; the grants API manages them, audited, per tenant."""

from __future__ import annotations

import pytest
from grants_support import JSON, SECRET, fill, grant, seen

pytestmark = pytest.mark.anyio


@pytest.fixture
async def world(client, tenant_a, tenant_b):
    await fill(client, tenant_a)
    return tenant_a, tenant_b


async def test_without_a_grant_the_partner_sees_public_values_only(client, world):
    a, b = world
    for suffix in ("P-1", "Q-1", "T-1"):
        assert await seen(client, f"{a.prefix}/{suffix}", b.auth()) == set()
    assert await seen(client, f"{a.prefix}/P-1", a.auth()) == {
        "cost-P-1", "mail-P-1", f"{SECRET}-P-1"}  # fmt: skip


async def test_a_pattern_grant_reveals_matching_handles_and_no_other(client, world):
    a, b = world
    await grant(client, a, b, pattern="P-*")
    assert await seen(client, f"{a.prefix}/P-1", b.auth()) == {"cost-P-1", "mail-P-1"}
    assert await seen(client, f"{a.prefix}/p-2", b.auth()) == {"cost-P-2", "mail-P-2"}
    assert await seen(client, f"{a.prefix}/Q-1", b.auth()) == set()
    assert await seen(client, f"{a.prefix}/T-1", b.auth()) == set()
    # Anonymous callers, and the partner without publicOnly=false, see public values only.
    assert await seen(client, f"{a.prefix}/P-1", {}) == set()
    r = await client.get(f"/api/handles/{a.prefix}/P-1", headers=b.auth())
    assert "cost-P-1" not in r.text
    # Filters apply within what is granted.
    r = await client.get(f"/api/handles/{a.prefix}/P-1?publicOnly=false&type=EMAIL",
                         headers=b.auth())  # fmt: skip
    assert [v["data"]["value"] for v in r.json()["values"]] == ["mail-P-1"]


async def test_a_type_grant_reveals_that_type_on_every_handle(client, world):
    a, b = world
    await grant(client, a, b, type="batch.cost")
    assert await seen(client, f"{a.prefix}/P-1", b.auth()) == {"cost-P-1"}
    assert await seen(client, f"{a.prefix}/Q-1", b.auth()) == {"cost-Q-1"}
    assert await seen(client, f"{a.prefix}/T-1", b.auth()) == set()


async def test_a_template_grant_reveals_records_made_from_it(client, world):
    a, b = world
    await grant(client, a, b, template="core")
    assert await seen(client, f"{a.prefix}/T-1", b.auth()) == {"maker-T-1"}
    assert await seen(client, f"{a.prefix}/P-1", b.auth()) == set()


async def test_credentials_are_never_granted(client, world):
    a, b = world
    await grant(client, a, b, pattern="*")
    assert SECRET + "-P-1" not in await seen(client, f"{a.prefix}/P-1", b.auth())
    r = await client.post("/api/grants", json={"to": b.prefix, "type": "HS_SECKEY"},
                          headers={**a.auth(), **JSON})  # fmt: skip
    assert r.status_code == 400 and "never granted" in r.json()["detail"]


async def test_a_revocation_takes_effect_on_the_next_request(client, world):
    a, b = world
    gid = await grant(client, a, b, pattern="P-*")
    assert await seen(client, f"{a.prefix}/P-1", b.auth()) == {"cost-P-1", "mail-P-1"}
    r = await client.delete(f"/api/grants/{gid}", headers=a.auth())
    assert r.status_code == 200 and r.json()["live"] is False
    assert await seen(client, f"{a.prefix}/P-1", b.auth()) == set()


async def test_a_grant_to_one_client_reaches_that_client_only(client, world):
    from core.auth import Principal
    from core.bus import get_bus
    from core.settings import get_settings
    from resolver.cache import RecordCache
    from resolver.counters import ResolutionCounters
    from resolver.service import Query, Resolver

    a, b = world
    await grant(client, a, b, pattern="P-*", client="erp-1")
    assert await seen(client, f"{a.prefix}/P-1", b.auth()) == set()  # B's API key: no client
    settings = get_settings()
    resolver = Resolver(RecordCache(get_bus(), max_bytes=1 << 20, negative_ttl=1,
                                     backstop_ttl=None),
                        ResolutionCounters(), settings)  # fmt: skip
    record = await resolver.lookup(f"{a.prefix}/P-1")

    def who(client_id: str | None) -> Principal:
        return Principal(actor="oauth:test", tenant_id=b.id, tenant_prefix=b.prefix,
                         scopes=frozenset({"read"}), client_id=client_id)  # fmt: skip

    def data(values) -> set[str]:
        return {str(v.data.value) for v in values if not v.public_read}

    query = Query(public_only=False)
    assert data(await resolver.view_for(record, query, who("erp-1"))) == {"cost-P-1", "mail-P-1"}
    assert data(await resolver.view_for(record, query, who("erp-2"))) == set()
    assert data(await resolver.view_for(record, query, who(None))) == set()


async def test_the_grants_api_lists_given_and_received_and_audits(client, world):
    from core.tables import AuditLog
    from core.tenancy import cross_tenant

    a, b = world
    gid = await grant(client, a, b, pattern="P-*")
    mine = (await client.get("/api/grants", headers=a.auth())).json()
    theirs = (await client.get("/api/grants", headers=b.auth())).json()
    assert [g["id"] for g in mine["given"]] == [gid] and mine["received"] == []
    assert [g["id"] for g in theirs["received"]] == [gid] and theirs["given"] == []
    assert theirs["received"][0]["owner"] == a.prefix
    # The partner cannot revoke the owner's grant; a read-only key cannot either.
    assert (await client.delete(f"/api/grants/{gid}", headers=b.auth())).status_code == 404
    r = await client.delete(f"/api/grants/{gid}", headers=a.auth(a.read_key))
    assert r.status_code == 403
    assert (await client.delete(f"/api/grants/{gid}", headers=a.auth())).status_code == 200
    async with cross_tenant("staff"):
        rows = await AuditLog.select(AuditLog.action, AuditLog.target).where(
            AuditLog.tenant_id == a.id).run()  # fmt: skip
    assert {("grant.create", gid), ("grant.revoke", gid)} <= {
        (r["action"], r["target"]) for r in rows}  # fmt: skip


@pytest.mark.parametrize(
    "body, status, says",
    [
        ({"pattern": "P-*", "type": "EMAIL"}, 400, "exactly one"),
        ({}, 400, "exactly one"),
        ({"pattern": ""}, 400, "glob"),
        ({"pattern": "P-*", "to": "88.100.999999"}, 404, "no open tenant"),
        ({"template": "nosuch"}, 404, "nosuch"),
        ({"type": "bad type!"}, 400, "not a value type"),
        ({"pattern": "x" * 300}, 400, ""),
    ],
)
async def test_bad_grants_are_refused_with_a_named_problem(client, world, body, status, says):
    a, b = world
    r = await client.post("/api/grants", json={"to": b.prefix, **body},
                          headers={**a.auth(), **JSON})  # fmt: skip
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert says in r.json()["detail"]


async def test_a_tenant_cannot_grant_itself_or_without_credentials(client, world):
    a, _ = world
    r = await client.post("/api/grants", json={"to": a.prefix, "pattern": "*"},
                          headers={**a.auth(), **JSON})  # fmt: skip
    assert r.status_code == 400 and "own values" in r.json()["detail"]
    r = await client.post("/api/grants", json={"to": a.prefix, "pattern": "*"}, headers=JSON)
    assert r.status_code == 401


async def test_a_grant_to_one_client_reaches_that_clients_real_token_only(client, app, world):
    import httpx

    from core.throttle import reset_limiter
    from tenants.clients.services.clients import create_client

    reset_limiter()  # the token door's limiter, on this test's event loop (Redis storage)
    a, b = world

    async def token(name: str) -> tuple[str, dict[str, str]]:
        secret, info = await create_client(b.prefix, name=name, scopes="read", actor="test")
        transport = httpx.ASGITransport(app=app)  # OAuth 2 over HTTPS only
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as tls:
            r = await tls.post("/oauth/token", data={"grant_type": "client_credentials"},
                               auth=(info.client_id, secret))  # fmt: skip
        assert r.status_code == 200, r.text
        return info.client_id, {"Authorization": f"Bearer {r.json()['access_token']}"}

    erp_id, erp = await token("erp")
    _, wms = await token("wms")
    gid = await grant(client, a, b, pattern="P-*", client=erp_id)
    assert await seen(client, f"{a.prefix}/P-1", erp) == {"cost-P-1", "mail-P-1"}
    assert await seen(client, f"{a.prefix}/P-1", wms) == set()
    assert await seen(client, f"{a.prefix}/P-1", b.auth()) == set()
    assert await seen(client, f"{a.prefix}/Q-1", erp) == set()
    assert (await client.delete(f"/api/grants/{gid}", headers=a.auth())).status_code == 200
    assert await seen(client, f"{a.prefix}/P-1", erp) == set()
