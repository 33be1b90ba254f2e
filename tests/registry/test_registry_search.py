"""Search, visibility by role, cursor pages under concurrent writes, reverse look-up."""

from __future__ import annotations

import pytest
from node_support import as_node
from registry_helpers import put_values, snms_login, sv

pytestmark = pytest.mark.anyio


async def _seed(client, t) -> None:
    p = t.prefix
    await put_values(
        client,
        t,
        f"{p}/PUMP-001",
        [
            sv(1, "URL", "https://shop.example.com/pump/1"),
            sv(2, "NOTE", "internal-batch-77", "1100"),
        ],
    )
    await put_values(client, t, f"{p}/PUMP-002", [sv(1, "URL", "https://shop.example.com/pump/2")])
    await put_values(
        client,
        t,
        f"{p}/VALVE-9",
        [
            sv(1, "URL", "https://other.org/v9"),
            sv(1001, "t", "motor@1"),
            sv(2000, "name", "M"),
            sv(2001, "model", "YE3-132"),
            sv(2003, "efficiencyClass", "IE3"),
        ],
    )


async def _handles(client, headers, query: str) -> list[str]:
    r = await client.get(f"/api/search?{query}", headers=headers)
    assert r.status_code == 200, r.text
    return [i["handle"].split("/", 1)[1] for i in r.json()["items"]]


async def test_search_by_suffix_value_attribute_template_and_time(client, tenant_a):
    await _seed(client, tenant_a)
    auth = tenant_a.auth()
    assert await _handles(client, auth, "q=pump") == ["PUMP-001", "PUMP-002"]
    assert await _handles(client, auth, "q=VALVE") == ["VALVE-9"]
    assert await _handles(client, auth, "value=shop.example.com") == ["PUMP-001", "PUMP-002"]
    assert await _handles(client, auth, "value=other.org&type=URL") == ["VALVE-9"]
    assert await _handles(client, auth, "value=other.org&type=EMAIL") == []
    assert await _handles(client, auth, "attr=model:ye3") == ["VALVE-9"]
    assert await _handles(client, auth, "template=motor") == ["VALVE-9"]
    assert await _handles(client, auth, "template=boiler") == []
    assert await _handles(client, auth, "q=100%25") == []  # LIKE wildcards are literal
    assert await _handles(client, auth, "updatedFrom=2000-01-01T00:00:00Z&q=pump") == [
        "PUMP-001",
        "PUMP-002",
    ]
    assert await _handles(client, auth, "createdTo=2000-01-01T00:00:00Z") == []
    r = await client.get("/api/search?createdFrom=yesterday", headers=auth)
    assert r.status_code == 400 and r.json()["field"] == "createdFrom"
    r = await client.get("/api/search?attr=nocolon", headers=auth)
    assert r.status_code == 400
    r = await client.get("/api/search?cursor=garbage", headers=auth)
    assert r.status_code == 400 and r.json()["field"] == "cursor"
    assert (await client.get("/api/search?q=pump")).status_code == 401


async def test_visibility_by_role(client, tenant_a):
    await _seed(client, tenant_a)
    dev = await snms_login(client, tenant_a.prefix, "developer")
    admin = await snms_login(client, tenant_a.prefix, "admin")
    viewer = await snms_login(client, tenant_a.prefix, "viewer")
    for who in (dev, admin, tenant_a.auth()):
        assert await _handles(client, who, "value=internal-batch") == ["PUMP-001"]
    for who in (viewer, tenant_a.auth(tenant_a.read_key)):
        assert await _handles(client, who, "value=internal-batch") == []
        r = await client.get("/api/search?q=PUMP-001", headers=who)
        assert [v["index"] for v in r.json()["items"][0]["values"]] == [1, 100]


async def test_staff_search_spans_tenants_and_is_audited(client, tenant_a, tenant_b):
    from core.auth import Principal
    from core.tables import AuditLog
    from tenants.identifiers.services.search import Query, search

    await _seed(client, tenant_a)
    await _seed(client, tenant_b)
    staff = Principal(actor="staff:1", is_staff=True)
    page = await search(staff, Query(q="pump-001"), limit=500)
    tenants = {h.tenant_id for h in page.hits}
    assert {tenant_a.id, tenant_b.id} <= tenants
    assert all(any(v.type == "NOTE" for v in h.values) for h in page.hits)  # private too
    async with as_node():
        rows = await AuditLog.select().where(AuditLog.action == "search.staff").run()
    assert rows and rows[-1]["actor"] == "staff:1"


async def test_cursor_pages_are_stable_under_concurrent_writes(client, tenant_a):
    p = tenant_a.prefix
    for n in range(7):
        await put_values(client, tenant_a, f"{p}/PG-{n}", [sv(1, "URL", f"https://e.com/{n}")])
    seen: list[str] = []
    cursor = None
    written = 0
    while True:
        q = "q=pg-&limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = (await client.get(f"/api/search?{q}", headers=tenant_a.auth())).json()
        seen += [i["handle"] for i in body["items"]]
        # concurrent writers: an update of an early row and a new row
        await put_values(client, tenant_a, f"{p}/PG-0", [sv(1, "URL", f"https://e.com/u{written}")])
        await put_values(client, tenant_a, f"{p}/PG-new{written}", [sv(1, "URL", "https://e.com")])
        written += 1
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen))  # nothing twice
    assert {f"{p}/PG-{n}" for n in range(7)} <= set(seen)  # nothing skipped


async def test_reverse_lookup_with_wildcards(client, tenant_a, tenant_b):
    await _seed(client, tenant_a)
    await _seed(client, tenant_b)
    auth = tenant_a.auth()
    r = await client.get("/hrls/handles?URL=*example.com*", headers=auth)
    assert r.status_code == 200
    assert r.json() == [f"{tenant_a.prefix}/PUMP-001", f"{tenant_a.prefix}/PUMP-002"]
    r = await client.get("/hrls/handles?URL=https://other.org/v9", headers=auth)
    assert r.json() == [f"{tenant_a.prefix}/VALVE-9"]
    r = await client.get("/hrls/handles?URL=other.org", headers=auth)  # no wildcard: exact
    assert r.json() == []
    r = await client.get("/hrls/handles?URL=*pump*&limit=1&page=1", headers=auth)
    assert r.json() == [f"{tenant_a.prefix}/PUMP-002"]
    r = await client.get("/hrls/handles?NOTE=internal*", headers=tenant_a.auth(tenant_a.read_key))
    assert r.json() == []  # a viewer cannot find by a private value
    assert (await client.get("/hrls/handles?URL=*")).status_code == 401
    assert (await client.get("/hrls/handles", headers=auth)).status_code == 400


async def test_tenant_b_cannot_search_tenant_a(client, tenant_a, tenant_b):
    await _seed(client, tenant_a)
    b = tenant_b.auth()
    assert await _handles(client, b, "q=pump") == []
    assert await _handles(client, b, "value=shop.example.com") == []
    assert (await client.get("/hrls/handles?URL=*", headers=b)).json() == []
    snms_b = await snms_login(client, tenant_b.prefix, "admin")
    assert await _handles(client, snms_b, "q=pump") == []
    from core.errors import InsufficientPermissions
    from tenants.auth import authenticate
    from tenants.identifiers.services.search import Query, search

    principal = await authenticate(None, tenant_b.key)
    with pytest.raises(InsufficientPermissions):
        await search(principal, Query(q="pump"), tenant_id=tenant_a.id)


async def test_search_follows_every_kind_of_write(client, tenant_a):
    """What search finds is kept in step with the record: single writes, value removal,
    SNMS batch updates and bulk loads."""
    p, auth = tenant_a.prefix, tenant_a.auth()
    await put_values(client, tenant_a, f"{p}/S-1", [sv(1, "URL", "https://old.example/1")])
    assert await _handles(client, auth, "value=old.example") == ["S-1"]
    await put_values(client, tenant_a, f"{p}/S-1", [sv(1, "URL", "https://new.example/1")])
    assert await _handles(client, auth, "value=old.example") == []
    assert await _handles(client, auth, "value=new.example") == ["S-1"]
    await put_values(
        client,
        tenant_a,
        f"{p}/S-1",
        [sv(1, "URL", "https://new.example/1"), sv(2, "EMAIL", "ops@mail.example")],
    )
    r = await client.delete(f"/api/handles/{p}/S-1?index=2", headers=auth)
    assert r.status_code == 200, r.text
    assert await _handles(client, auth, "value=mail.example") == []
    snms = await snms_login(client, p)
    batch = [
        {"handle": f"{p}/S-1", "value": [{"index": 1, "type": "URL", "data": "https://b.example"}]}
    ]
    r = await client.put("/identityv2/data/batchUpdate", json=batch, headers=snms)
    assert r.json()["status"] == 1, r.text
    assert await _handles(client, auth, "value=new.example") == []
    assert await _handles(client, auth, "value=b.example") == ["S-1"]
    # Administrative values are plumbing, not content: not found by search.
    assert await _handles(client, auth, "value=0.NA/") == []


async def test_migration_backfills_search_text_of_older_records(client, tenant_a):
    import importlib

    from tenants.identifiers.tables import Identifier

    p, auth = tenant_a.prefix, tenant_a.auth()
    await put_values(client, tenant_a, f"{p}/OLD-1", [sv(1, "URL", "https://legacy.example")])
    # As a record written before search_text existed would look.
    async with as_node():
        await Identifier.update({Identifier.search_text: ""}).where(
            Identifier.tenant_id == tenant_a.id
        )
    assert await _handles(client, auth, "value=legacy.example") == []
    migration = importlib.import_module("migrations.registry.registry_2026_11_24t05_10_00_000000")
    async with as_node():  # as `idnest migrate` runs it, on the migrate path
        await migration._backfill()
    assert await _handles(client, auth, "value=legacy.example") == ["OLD-1"]
