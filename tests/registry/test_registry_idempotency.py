"""Idempotency-Key: the same request twice, sequentially and concurrently, writes once."""

from __future__ import annotations

import asyncio
import json

import pytest
from node_support import as_node
from registry_helpers import JSON, snms_login, sv

pytestmark = pytest.mark.anyio


async def _versions(handle: str) -> int:
    from tenants.identifiers.tables import Identifier

    async with as_node():
        row = (
            await Identifier.select(Identifier.version)
            .where(Identifier.handle == handle)
            .first()
            .run()
        )
    return row["version"] if row else 0


async def _audit_count(handle: str) -> int:
    """Audit entries for a handle: its own rows, plus mentions in batch rows."""
    from core.tables import AuditLog

    async with as_node():
        own = await AuditLog.count().where(AuditLog.target == handle).run()
    async with as_node():
        batches = await AuditLog.select(AuditLog.detail).where(
            AuditLog.action == "identifier.batch"
        )
    mentions = 0
    for row in batches:
        detail = json.loads(row["detail"]) if isinstance(row["detail"], str) else row["detail"]
        mentions += detail["created"].count(handle)
        mentions += [h for h, _version in detail["updated"]].count(handle)
    return own + mentions


async def test_sequential_retry_replays_the_first_answer(client, tenant_a):
    h = f"{tenant_a.prefix}/IDEM-1"
    headers = {**tenant_a.auth(), **JSON, "Idempotency-Key": "k-1"}
    body = {"values": [sv(1, "URL", "https://e.com")]}
    r1 = await client.put(f"/api/handles/{h}", json=body, headers=headers)
    r2 = await client.put(f"/api/handles/{h}", json=body, headers=headers)
    assert r1.status_code == r2.status_code == 201 and r1.json() == r2.json()
    assert await _versions(h) == 1 and await _audit_count(h) == 1
    # a different body under the same key is refused
    other = {"values": [sv(1, "URL", "https://other.com")]}
    r3 = await client.put(f"/api/handles/{h}", json=other, headers=headers)
    assert r3.status_code == 409 and "different request" in r3.json()["detail"]
    # without a key, a repeat is a new write
    plain = {**tenant_a.auth(), **JSON}
    await client.put(f"/api/handles/{h}", json=body, headers=plain)
    assert await _versions(h) == 2
    # mintNewSuffix: the retry gets the same minted handle, not a second one
    mint = {**tenant_a.auth(), **JSON, "Idempotency-Key": "mint-1"}
    a = await client.put(
        f"/api/handles/{tenant_a.prefix}/?mintNewSuffix=true", json=body, headers=mint
    )
    b = await client.put(
        f"/api/handles/{tenant_a.prefix}/?mintNewSuffix=true", json=body, headers=mint
    )
    assert a.status_code == 201 and a.json()["handle"] == b.json()["handle"]


async def test_concurrent_duplicates_register_once(client, tenant_a):
    h = f"{tenant_a.prefix}/IDEM-C"
    headers = {**tenant_a.auth(), **JSON, "Idempotency-Key": "conc-1"}
    body = {"values": [sv(1, "URL", "https://e.com")]}
    rs = await asyncio.gather(
        *(client.put(f"/api/handles/{h}", json=body, headers=headers) for _ in range(6))
    )
    assert {r.status_code for r in rs} == {201}, [r.text for r in rs]
    assert await _versions(h) == 1 and await _audit_count(h) == 1


async def test_keys_are_per_tenant(client, tenant_a, tenant_b):
    body = {"values": [sv(1, "URL", "https://e.com")]}
    ra = await client.put(
        f"/api/handles/{tenant_a.prefix}/K",
        json=body,
        headers={**tenant_a.auth(), **JSON, "Idempotency-Key": "same"},
    )
    rb = await client.put(
        f"/api/handles/{tenant_b.prefix}/K",
        json=body,
        headers={**tenant_b.auth(), **JSON, "Idempotency-Key": "same"},
    )
    assert ra.status_code == rb.status_code == 201
    assert rb.json()["handle"] == f"{tenant_b.prefix}/K"


async def test_snms_batch_retry_answers_the_same_per_item_results(client, tenant_a):
    auth = await snms_login(client, tenant_a.prefix)
    p = tenant_a.prefix
    items = [
        {"handle": f"{p}/IB-{n}", "value": [{"index": 1, "type": "URL", "data": "https://e.com"}]}
        for n in range(3)
    ] + [{"handle": "bad handle"}]
    headers = {**auth, "Idempotency-Key": "batch-1"}
    r1 = await client.post("/identityv2/data/batchCreate", json=items, headers=headers)
    r2, r3 = await asyncio.gather(
        client.post("/identityv2/data/batchCreate", json=items, headers=headers),
        client.post("/identityv2/data/batchCreate", json=items, headers=headers),
    )
    assert r1.json() == r2.json() == r3.json()
    assert [x["status"] for x in r1.json()["data"]] == [1, 1, 1, -2]
    assert await _versions(f"{p}/IB-0") == 1 and await _audit_count(f"{p}/IB-0") == 1
    # SNMS single create with a key
    one = {**auth, "Idempotency-Key": "one-1"}
    body = {"handle": f"{p}/IS-1", "value": items[0]["value"]}
    a = await client.post("/identityv2/data", json=body, headers=one)
    b = await client.post("/identityv2/data", json=body, headers=one)
    assert a.json()["status"] == b.json()["status"] == 1


async def test_bad_key_is_refused(client, tenant_a):
    r = await client.put(
        f"/api/handles/{tenant_a.prefix}/BK",
        json=[sv(1, "URL", "x")],
        headers={**tenant_a.auth(), **JSON, "Idempotency-Key": "x" * 300},
    )
    assert r.status_code == 400 and r.json()["field"] == "Idempotency-Key"


async def test_purge_forgets_only_old_keys(client, tenant_a):
    from datetime import UTC, datetime, timedelta

    from tenants.identifiers.services.idempotency import purge
    from tenants.identifiers.tables import IdempotencyKey

    body = {"values": [sv(1, "URL", "https://e.com")]}
    for key in ("old-1", "new-1"):
        await client.put(
            f"/api/handles/{tenant_a.prefix}/P-{key}",
            json=body,
            headers={**tenant_a.auth(), **JSON, "Idempotency-Key": key},
        )
    async with as_node():
        await (
            IdempotencyKey.update(
                {IdempotencyKey.created_at: datetime.now(UTC) - timedelta(days=10)}
            )
            .where((IdempotencyKey.tenant_id == tenant_a.id) & (IdempotencyKey.key == "old-1"))
            .run()
        )
    assert await purge(72) >= 1
    async with as_node():
        left = (
            await IdempotencyKey.select(IdempotencyKey.key)
            .where(IdempotencyKey.tenant_id == tenant_a.id)
            .run()
        )
    assert [r["key"] for r in left] == ["new-1"]
