"""Every status on every door: REST, proxy, OID, the Handle wire protocol (UDP and TCP),
the tenant's policy for suspended and expired identifiers, and a status change or a
closing validity window seen by the very next resolution, cached or not."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from lifecycle_support import JSON, URL, register, set_status, start_wire, wire_resolve, wire_status

pytestmark = pytest.mark.anyio
PROBLEM = "application/problem+json"


@pytest.fixture
async def wire(app: Any, client: Any, settings: Any) -> Any:
    listener, server = await start_wire(app, settings)
    yield server
    await listener.stop()


async def _rest(client: Any, handle: str, query: str = "") -> Any:
    return await client.get(f"/api/handles/{handle}{query}")


async def _proxy(client: Any, handle: str) -> Any:
    return await client.get(f"/{handle}", follow_redirects=False)


async def test_revoked_answers_410_with_since_and_reason_on_rest_proxy_and_wire(
    client, tenant_a, wire
):
    h = await register(client, tenant_a, "REV-1")
    assert (await _rest(client, h)).status_code == 200  # cached now, on the fast path
    assert (await _proxy(client, h)).status_code == 302
    changed = await set_status(client, tenant_a, h, "revoked", reason="recalled batch")
    assert changed["status"] == changed["state"] == "revoked" and changed["since"]
    for r in (await _rest(client, h), await _rest(client, h, "?type=URL"), await _proxy(client, h)):
        assert r.status_code == 410 and r.headers["content-type"].startswith(PROBLEM), r.text
        body = r.json()
        assert body["identifierStatus"] == "revoked" and body["statusReason"] == "recalled batch"
        assert body["statusSince"] == changed["since"].replace("+00:00", "Z")
        assert "location" not in r.headers
    for transport in ("udp", "tcp"):
        rc, values = await wire_resolve(wire, h, transport)
        assert rc == 1, values
        assert [v.type for v in values if v.index == 1] == ["URL"]  # the values are kept
        status = wire_status(values)
        assert status is not None and status["status"] == "revoked"
        assert status["reason"] == "recalled batch" and status["since"]


async def test_active_records_carry_no_status_value_on_the_wire(client, tenant_a, wire):
    h = await register(client, tenant_a, "PLAIN-1")
    for _ in range(2):  # the miss, then the cached fast path
        rc, values = await wire_resolve(wire, h)
        assert rc == 1 and wire_status(values) is None


async def test_suspended_is_refused_by_default_and_served_with_a_header_when_the_tenant_says(
    client, tenant_a, wire
):
    h = await register(client, tenant_a, "SUS-1")
    await set_status(client, tenant_a, h, "suspended", reason="audit")
    r = await _rest(client, h)
    assert r.status_code == 403 and r.json()["identifierStatus"] == "suspended"
    assert (await _proxy(client, h)).status_code == 403
    rc, values = await wire_resolve(wire, h)
    assert rc == 1 and wire_status(values)["status"] == "suspended"  # type: ignore[index]

    policy = {"suspended": "serve"}
    r = await client.put(
        "/api/settings/lifecycle", json=policy, headers={**tenant_a.auth(), **JSON}
    )
    assert r.status_code == 200 and r.json() == {"suspended": "serve", "expired": "refuse"}
    r = await _rest(client, h)
    assert r.status_code == 200 and r.headers["identifier-status"] == "suspended"
    assert r.json()["values"][0]["data"]["value"] == URL
    r = await _proxy(client, h)
    assert r.status_code == 302 and r.headers["location"] == URL
    assert r.headers["identifier-status"] == "suspended"
    # A revoked identifier is refused whatever the policy.
    await client.put(
        "/api/settings/lifecycle", json={"expired": "serve"}, headers={**tenant_a.auth(), **JSON}
    )
    await set_status(client, tenant_a, h, "revoked")
    assert (await _rest(client, h)).status_code == 410


async def test_expired_status_and_the_served_policy(client, tenant_a):
    h = await register(client, tenant_a, "EXP-1")
    await set_status(client, tenant_a, h, "expired")
    r = await _rest(client, h)
    assert r.status_code == 410 and r.json()["identifierStatus"] == "expired"
    await client.put(
        "/api/settings/lifecycle", json={"expired": "serve"}, headers={**tenant_a.auth(), **JSON}
    )
    r = await _proxy(client, h)
    assert r.status_code == 302 and r.headers["identifier-status"] == "expired"
    # Back to active: the next resolution is the plain record again, fast path and all.
    await set_status(client, tenant_a, h, "active")
    r = await _rest(client, h)
    assert r.status_code == 200 and "identifier-status" not in r.headers


async def test_a_window_closing_while_cached_answers_expired_at_once(client, tenant_a, wire, app):
    h = await register(client, tenant_a, "WIN-1")
    until = datetime.now(UTC) + timedelta(seconds=1.5)
    await set_status(client, tenant_a, h, "active", validUntil=until.isoformat())
    assert (await _rest(client, h)).status_code == 200
    rc, values = await wire_resolve(wire, h)
    assert rc == 1 and wire_status(values)["status"] == "active"  # type: ignore[index]
    from resolver.cache import Record

    assert isinstance(app.resolver.cache.get(h.lower()), Record)  # cached
    await asyncio.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.1)
    r = await _rest(client, h)
    assert r.status_code == 410, r.text
    body = r.json()
    assert body["identifierStatus"] == "expired"
    assert body["validUntil"] == until.astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert isinstance(app.resolver.cache.get(h.lower()), Record)  # still the cached record
    rc, values = await wire_resolve(wire, h)
    assert rc == 1 and wire_status(values)["status"] == "expired"  # type: ignore[index]


async def test_not_yet_valid_answers_404_with_valid_from(client, tenant_a, wire):
    h = await register(client, tenant_a, "FUT-1")
    await set_status(client, tenant_a, h, "active", validFrom="2999-01-01")
    r = await _rest(client, h)
    assert r.status_code == 404 and r.json()["identifierStatus"] == "not_yet_valid"
    assert r.json()["validFrom"] == "2998-12-31T16:00:00Z"  # 00:00 in Shanghai
    assert (await _proxy(client, h)).status_code == 404
    rc, values = await wire_resolve(wire, h)
    assert rc == 1 and wire_status(values)["status"] == "not_yet_valid"  # type: ignore[index]
    await set_status(client, tenant_a, h, "active", validFrom=None)
    assert (await _rest(client, h)).status_code == 200


async def test_oid_door_answers_the_bound_records_status(client, tenant_a):
    from tenants.schemes.services.namespaces import request_namespace, review_namespace

    info = await request_namespace(tenant_a.id, "oid", None, actor="test")
    if info.status != "verified":
        info = await review_namespace("oid", info.value, verified=True, actor="staff:test")
    oid = f"{info.value}.7.1"
    r = await client.post(
        "/api/v1/schemes/oid/codes",
        json={"code": oid, "url": "https://brand.example/oid"},
        headers={**tenant_a.auth(), **JSON},
    )
    assert r.status_code == 201, r.text
    assert (await client.get(f"/oid/{oid}", follow_redirects=False)).status_code == 302
    await set_status(client, tenant_a, r.json()["handle"], "revoked")
    r = await client.get(f"/oid/{oid}", follow_redirects=False)
    assert r.status_code == 410 and r.json()["identifierStatus"] == "revoked"


async def test_the_handle_protocol_over_http_carries_the_status_value(client, tenant_a):
    import json
    from urllib.parse import quote

    from resolver.wire import bodies, codec
    from resolver.wire.constants import ENVELOPE_SIZE, OpCode
    from resolver.wire.message import decode_envelope, parse_message

    h = await register(client, tenant_a, "HDL-1")
    await set_status(client, tenant_a, h, "suspended", reason="review")
    hdl = "application/x-hdl-message"
    frame = codec.encode_request(
        OpCode.RESOLUTION, bodies.resolution_request_body(h), request_id=77
    )
    r = await client.post(
        "/" + quote(h, safe=""), content=frame, headers={"Content-Type": hdl, "Accept": hdl}
    )
    assert r.status_code == 200 and r.headers["content-type"] == hdl
    env = decode_envelope(r.content, 0)
    msg = parse_message(env, r.content[ENVELOPE_SIZE : ENVELOPE_SIZE + env.length])
    body, _ = bodies.decode_body(msg)
    assert msg.header.rc == 1
    status = [v for v in body.values if v.type == "HS_STATUS"]
    assert len(status) == 1 and status[0].index == 0 and status[0].ttl == 0
    assert json.loads(status[0].data.value)["status"] == "suspended"
    assert any(v.type == "URL" for v in body.values)
