"""Status changes as writes: audited on the hash chain, synced upstream as modify
operations, bulk status jobs, bad input answered 4xx naming the field, and tenant B
never changing or seeing A's status."""

from __future__ import annotations

import json
from typing import Any

import pytest
from lifecycle_support import JSON, patch, register, set_status
from node_support import as_node

pytestmark = pytest.mark.anyio


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def test_a_status_change_is_audited_and_queued_upstream_as_a_modify(client, tenant_a):
    from core import audit
    from core.tables import AuditLog, Outbox

    h = await register(client, tenant_a, "AUD-1")
    changed = await set_status(
        client, tenant_a, h, "suspended", reason="dispute", validUntil="2030-06-30"
    )
    assert changed["version"] == 2 and changed["validUntil"] == "2030-06-30T16:00:00+00:00"
    await audit.seal()  # PostgreSQL links entries moments after the write; now, here
    async with as_node():
        rows = (
            await AuditLog.select()
            .where((AuditLog.tenant_id == tenant_a.id) & (AuditLog.action == "identifier.status"))
            .run()
        )
        sent = (
            await Outbox.select(Outbox.payload)
            .where((Outbox.tenant_id == tenant_a.id) & (Outbox.topic == "upstream.identifier"))
            .order_by(Outbox.id)
            .run()
        )
    assert len(rows) == 1 and rows[0]["hash"] and rows[0]["actor"].startswith("key:")
    detail = _json(rows[0]["detail"])
    assert detail["before"]["status"] == "active" and detail["after"]["status"] == "suspended"
    assert detail["after"]["reason"] == "dispute"
    last = _json(sent[-1]["payload"])
    data = last.get("data", last)
    assert data["handle"] == h and data["op"] == 3  # modify
    assert data["lifecycle"]["status"] == "suspended"
    assert data["lifecycle"]["validUntil"] == "2030-06-30T16:00:00+00:00"
    assert [f["value"] for f in data["fields"] if f["type"] == "URL"]  # the record rides along
    assert audit.entry_hash(rows[0]) == rows[0]["hash"]  # on the hash chain


async def test_the_owner_reads_the_lifecycle(client, tenant_a):
    h = await register(client, tenant_a, "READ-1")
    r = await client.get(f"/api/lifecycle/{h}", headers=tenant_a.auth(tenant_a.read_key))
    assert r.status_code == 200
    assert r.json()["status"] == r.json()["state"] == "active" and r.json()["since"] is None
    await set_status(client, tenant_a, h, "revoked", reason="recall")
    r = await client.get(f"/api/lifecycle/{h}", headers=tenant_a.auth(tenant_a.read_key))
    assert r.json()["status"] == "revoked" and r.json()["reason"] == "recall"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "deleted"}, "status"),
        ({"status": 7}, "status"),
        ({"validFrom": "2027-01-02", "validUntil": "2027-01-01"}, "validUntil"),
        (
            {"validFrom": "2027-01-01T10:00:00+08:00", "validUntil": "2027-01-01T02:00:00Z"},
            "validUntil",
        ),
        ({"validUntil": "31/12/2027"}, "validUntil"),
        ({"validFrom": "2027-02-30"}, "validFrom"),
        ({"validFrom": 20270101}, "validFrom"),
        ({"status": "active", "colour": "red"}, "colour"),
        ({}, "status"),
        ({"reason": "why"}, "status"),
        ({"status": "suspended", "reason": "x" * 256}, "reason"),
        ([{"status": "revoked"}], "status"),
    ],
)
async def test_bad_changes_are_400_naming_the_field(client, tenant_a, body, field):
    h = await register(client, tenant_a, f"BAD-{abs(hash(json.dumps(body))) % 10**8}")
    r = await patch(client, tenant_a, h, body)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == field
    assert (await client.get(f"/api/handles/{h}")).status_code == 200  # nothing changed


async def test_other_refusals(client, tenant_a):
    h = await register(client, tenant_a, "REF-1")
    r = await client.patch(
        f"/api/handles/{h}", content=b"not json", headers={**tenant_a.auth(), **JSON}
    )
    assert r.status_code == 400
    r = await client.patch(f"/api/handles/{h}", content=b"{}", headers=tenant_a.auth())
    assert r.status_code == 400 and r.json()["field"] == "content-type"
    r = await client.patch(f"/api/handles/{h}", json={"status": "revoked"}, headers=JSON)
    assert r.status_code == 401
    r = await patch(client, tenant_a, h, {"status": "revoked"}, tenant_a.read_key)
    assert r.status_code == 403
    r = await patch(client, tenant_a, f"{tenant_a.prefix}/NOPE-1", {"status": "revoked"})
    assert r.status_code == 404
    await set_status(client, tenant_a, h, "revoked")
    for again in ({"status": "active"}, {"validUntil": "2030-01-01"}):
        r = await patch(client, tenant_a, h, again)
        assert r.status_code == 409 and "final" in r.json()["detail"]
    bad_policy = ({"suspended": "hide"}, {"expired": None}, {"gone": "serve"}, {})
    for body in bad_policy:
        r = await client.put(
            "/api/settings/lifecycle", json=body, headers={**tenant_a.auth(), **JSON}
        )
        assert r.status_code == 400, (body, r.text)


async def test_a_tenant_cannot_register_the_status_value(client, tenant_a):
    h = f"{tenant_a.prefix}/FAKE-STATUS"
    for value in (
        {"index": 5, "type": "HS_STATUS", "data": '{"status": "active"}'},
        {"index": 5, "type": "HS_STATUS", "data": {"format": "string", "value": "x"}},
    ):
        r = await client.put(f"/api/handles/{h}", json=[value], headers={**tenant_a.auth(), **JSON})
        assert r.status_code == 400 and "HS_STATUS" in r.json()["detail"]


async def test_tenant_b_can_neither_change_nor_see_as_status(client, tenant_a, tenant_b):
    h = await register(client, tenant_a, "ISO-1")
    await set_status(client, tenant_a, h, "suspended", reason="internal note")
    r = await patch(client, tenant_b, h, {"status": "active"})
    assert r.status_code == 403
    r = await client.get(f"/api/lifecycle/{h}", headers=tenant_b.auth())
    assert r.status_code == 403 and "internal note" not in r.text
    r = await client.get(f"/api/usage/{h}", headers=tenant_b.auth())
    assert r.status_code == 403
    # A's suffix under B's prefix is B's namespace, where it does not exist.
    same_suffix = h.replace(tenant_a.prefix, tenant_b.prefix)
    assert (await patch(client, tenant_b, same_suffix, {"status": "revoked"})).status_code == 404
    r = await client.put(
        "/api/settings/lifecycle", json={"suspended": "serve"}, headers={**tenant_b.auth(), **JSON}
    )
    assert r.status_code == 200
    # B's policy is B's: A's suspended identifier is still refused.
    assert (await client.get(f"/api/handles/{h}")).status_code == 403
    r = await client.get(f"/api/lifecycle/{h}", headers=tenant_a.auth())
    assert r.json()["status"] == "suspended" and r.json()["version"] == 2


async def test_a_bulk_status_job_changes_good_rows_and_reports_bad_ones(client, tenant_a, tenant_b):
    from tenants.identifiers import jobs

    mine = [await register(client, tenant_a, f"BULK-{i}") for i in range(3)]
    theirs = await register(client, tenant_b, "BULK-B")
    rows = [
        {"handle": mine[0], "status": "revoked", "reason": "recall"},
        {"handle": mine[1], "status": "suspended"},
        {"handle": mine[2], "validUntil": "2000-01-01"},
        {"handle": mine[2], "status": "paused"},
        {"handle": theirs, "status": "revoked"},
        {"handle": f"{tenant_a.prefix}/NOPE", "status": "revoked"},
    ]
    data = ("\n".join(json.dumps(r) for r in rows) + "\n{broken\n").encode()
    r = await client.post(
        "/api/bulk/jobs?format=ndjson&mode=status",
        content=data,
        headers={**tenant_a.auth(), "Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 202, r.text
    await jobs.wait_local()
    job = (await client.get(f"/api/bulk/jobs/{r.json()['jobId']}", headers=tenant_a.auth())).json()
    assert job["status"] == "done" and (job["okRows"], job["failedRows"]) == (3, 4), job
    assert (await client.get(f"/api/handles/{mine[0]}")).status_code == 410
    assert (await client.get(f"/api/handles/{mine[1]}")).status_code == 403
    assert (await client.get(f"/api/handles/{mine[2]}")).json()["identifierStatus"] == "expired"
    assert (await client.get(f"/api/handles/{theirs}")).status_code == 200  # B's untouched
    results = await client.get(f"/api/bulk/jobs/{job['jobId']}/results", headers=tenant_a.auth())
    failed = [line for line in results.text.splitlines() if ",error," in line]
    assert len(failed) == 4 and any("paused" in line for line in failed)
    csv_rows = f"handle,status,reason\n{mine[1]},active,\n".encode()
    r = await client.post(
        "/api/bulk/jobs?format=csv&mode=status",
        content=csv_rows,
        headers={**tenant_a.auth(), "Content-Type": "text/csv"},
    )
    assert r.status_code == 202, r.text
    await jobs.wait_local()
    assert (await client.get(f"/api/handles/{mine[1]}")).status_code == 200


async def test_a_put_may_set_the_lifecycle_in_the_same_write(client, tenant_a):
    h = f"{tenant_a.prefix}/PUT-LC-1"
    body = {
        "values": [{"index": 1, "type": "URL", "data": "https://example.com/put"}],
        "validFrom": "2999-01-01",
        "status": "active",
    }
    r = await client.put(f"/api/handles/{h}", json=body, headers={**tenant_a.auth(), **JSON})
    assert r.status_code == 201, r.text
    r = await client.get(f"/api/handles/{h}")
    assert r.status_code == 404 and r.json()["identifierStatus"] == "not_yet_valid"
    bad = {**body, "status": "gone"}
    h2 = f"{tenant_a.prefix}/PUT-LC-2"
    r = await client.put(f"/api/handles/{h2}", json=bad, headers={**tenant_a.auth(), **JSON})
    assert r.status_code == 400 and r.json()["field"] == "status"
    r = await client.get(f"/api/handles/{h2}")
    assert r.status_code == 404 and "identifierStatus" not in r.json()  # never created
