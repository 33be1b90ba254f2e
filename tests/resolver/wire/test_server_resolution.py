"""The wire server, resolution side: real sockets, real bytes, the app's own resolver."""

from __future__ import annotations

import asyncio
import random
import struct
from typing import Any

import pytest
from cache_support import writes_settled
from wire_server_helpers import put, start_listener, udp_exchange

from core.values import value_to_json
from resolver.wire import bodies, client, codec
from resolver.wire.constants import OpCode, ResponseCode
from resolver.wire.keys import decode_public_key, server_key

pytestmark = pytest.mark.anyio


@pytest.fixture
async def wire(app: Any, client: Any, settings: Any) -> Any:
    listener, port = await start_listener(app, settings)
    yield ("127.0.0.1", port)
    await listener.stop()


def url(index: int = 1, value: str = "https://example.com/p/1") -> dict[str, Any]:
    return {"index": index, "type": "URL", "data": value}


def restricted(index: int = 5) -> dict[str, Any]:
    return {"index": index, "type": "NOTE", "data": "internal only", "permissions": "1100"}


def request(handle: str, request_id: int = 7, **kw: Any) -> bytes:
    body = bodies.resolution_request_body(handle, **kw)
    return codec.encode_request(OpCode.RESOLUTION, body, request_id=request_id)


def as_json(values: list[Any]) -> list[dict[str, Any]]:
    return sorted((value_to_json(v) for v in values), key=lambda v: v["index"])


async def test_udp_and_tcp_give_what_http_gives(client, tenant_a, wire):
    h = f"{tenant_a.prefix}/PUMP-1"
    await put(client, tenant_a, h, [url(), {"index": 2, "type": "EMAIL", "data": "a@b.c"},
                                    restricted()])  # fmt: skip
    http = (await client.get(f"/api/handles/{h}")).json()
    for transport in ("udp", "tcp"):
        rc, values = await client_resolve(h, wire, transport)
        assert rc == ResponseCode.SUCCESS
        assert as_json(values) == sorted(http["values"], key=lambda v: v["index"])
        assert all(v.type != "NOTE" for v in values)  # restricted: never to anonymous
    # case-insensitive like HTTP
    rc, values = await client_resolve(h.lower(), wire, "udp")
    assert rc == 1 and len(values) == len(http["values"])


async def client_resolve(h: str, server: Any, transport: Any = "udp", **kw: Any) -> Any:
    res = await client.resolve(h, server=server, transport=transport, timeout=5, **kw)
    return res.rc, res.result


async def test_type_and_index_filters_and_values_not_found(client, tenant_a, wire):
    h = f"{tenant_a.prefix}/FILTER"
    email = {"index": 3, "type": "EMAIL", "data": "x@y.z"}
    await put(client, tenant_a, h, [url(), url(2, "https://b.example"), email, restricted()])
    for transport in ("udp", "tcp"):
        rc, values = await client_resolve(h, wire, transport, types=["URL"])
        assert rc == 1 and sorted(v.index for v in values) == [1, 2]
        rc, values = await client_resolve(h, wire, transport, indices=[3])
        assert rc == 1 and [v.type for v in values] == ["EMAIL"]
        rc, values = await client_resolve(h, wire, transport, types=["url"], indices=[3])
        assert rc == 1 and sorted(v.index for v in values) == [1, 2, 3]
        rc, message = await client_resolve(h, wire, transport, types=["NOPE"])
        assert rc == ResponseCode.VALUES_NOT_FOUND and isinstance(message, str)
        # an index filter cannot reach a restricted value either
        rc, _ = await client_resolve(h, wire, transport, indices=[5])
        assert rc == ResponseCode.VALUES_NOT_FOUND


async def test_not_found_invalid_and_not_served(client, tenant_a, wire):
    rc, msg = await client_resolve(f"{tenant_a.prefix}/NOPE", wire)
    assert rc == ResponseCode.HANDLE_NOT_FOUND and "does not exist" in msg
    rc, msg = await client_resolve("88.100.999999/X", wire, "tcp")
    assert rc == ResponseCode.HANDLE_NOT_FOUND
    rc, msg = await client_resolve("10.1234/elsewhere", wire)
    assert rc == ResponseCode.SERVER_NOT_RESP and "not served here" in msg
    rc, msg = await client_resolve("no-slash", wire)
    assert rc == ResponseCode.INVALID_HANDLE
    # invalid UTF-8 in the handle: INVALID_HANDLE, not a crash
    frame = codec.encode_request(
        OpCode.RESOLUTION, bodies.resolution_request_body(b"88.100/\xff\xfe"), request_id=9
    )
    (reply,) = await udp_exchange(wire[1], [frame])
    assert codec.decode_message(reply).header.rc == ResponseCode.INVALID_HANDLE


async def test_write_over_http_is_seen_over_wire_at_once(client, tenant_a, wire):
    h = f"{tenant_a.prefix}/FRESH"
    await put(client, tenant_a, h, [url()])
    rc, values = await client_resolve(h, wire)  # now cached, with its wire block
    assert [v.data.value for v in values if v.type == "URL"] == ["https://example.com/p/1"]
    await put(client, tenant_a, h, [url(value="https://new.example/")])
    for transport in ("udp", "tcp"):
        rc, values = await client_resolve(h, wire, transport)
        assert [v.data.value for v in values if v.type == "URL"] == ["https://new.example/"]
    await client.delete(f"/api/handles/{h}", headers=tenant_a.auth())
    rc, _ = await client_resolve(h, wire)
    assert rc == ResponseCode.HANDLE_NOT_FOUND


async def test_resolutions_are_counted(app, client, tenant_a, wire):
    h = f"{tenant_a.prefix}/COUNT"
    await put(client, tenant_a, h, [url()])
    before = app.resolver.counters.total
    for _ in range(3):
        await client_resolve(h, wire)
    assert app.resolver.counters.total - before == 3


async def test_prefix_handles_for_tenants(client, tenant_a, wire, settings):
    h = f"0.NA/{tenant_a.prefix}"
    for transport in ("udp", "tcp"):
        rc, values = await client_resolve(h, wire, transport)
        assert rc == 1, values
        by_type = {v.type: v for v in values}
        assert set(by_type) == {"HS_SITE", "HS_ADMIN", "HS_VLIST"}
        assert by_type["HS_ADMIN"].data.value["handle"] == h
        assert by_type["HS_VLIST"].data.value == [{"handle": f"{tenant_a.prefix}/admin",
                                                   "index": 300}]  # fmt: skip
        site = by_type["HS_SITE"].data.value
        assert site["servers"][0]["interfaces"][0]["port"] == settings.wire_port
    # HTTP resolves the same synthesised record
    r = await client.get(f"/api/handles/{h}")
    assert r.status_code == 200
    assert {v["type"] for v in r.json()["values"]} == {"HS_SITE", "HS_ADMIN", "HS_VLIST"}
    rc, _ = await client_resolve("0.NA/88.100.999999", wire)
    assert rc == ResponseCode.HANDLE_NOT_FOUND
    rc, msg = await client_resolve("0.NA/10.5555", wire)
    assert rc == ResponseCode.SERVER_NOT_RESP and "not served here" in msg


async def test_get_site_info(wire, settings):
    for transport in ("udp", "tcp"):
        rc, site = await client.get_site_info(server=wire, transport=transport)
        assert rc == 1, site
        assert isinstance(site, dict)
        addresses = {s["address"] for s in site["servers"]}
        assert addresses == {"127.0.0.1", "::1"}
        protocols = {i["protocol"] for i in site["servers"][0]["interfaces"]}
        assert protocols == {"UDP", "TCP", "HTTP"}
        import base64

        key = decode_public_key(base64.b64decode(site["servers"][0]["publicKey"]["value"]))
        assert key.public_numbers() == server_key(settings).public_key().public_numbers()


async def test_udp_rate_limit_per_source(app, client, tenant_a, settings):
    h = f"{tenant_a.prefix}/RL"
    await put(client, tenant_a, h, [url()])
    listener, port = await start_listener(app, settings, wire_udp_rate=1.0, wire_udp_burst=5.0)
    try:
        replies = await udp_exchange(port, [request(h, i) for i in range(1, 31)])
        assert len(replies) == 5
        assert listener.server.limiter.refused == 25
    finally:
        await listener.stop()


async def test_malformed_input_never_kills_the_server(client, tenant_a, wire):
    h = f"{tenant_a.prefix}/FUZZ"
    await put(client, tenant_a, h, [url()])
    good = request(h)
    rng = random.Random(3652)
    junk = [b"", b"\x00", bytes(20), bytes(44), b"\xff" * 600]
    for _ in range(300):
        b = bytearray(good)
        for _ in range(rng.randint(1, 6)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        junk.append(bytes(b[: rng.randint(0, len(b))]) if rng.random() < 0.3 else bytes(b))
    junk += [rng.randbytes(rng.randint(1, 600)) for _ in range(100)]
    replies = await udp_exchange(wire[1], junk, wait=0.5)
    for reply in replies:  # whatever came back is a well-formed response
        msg = codec.decode_message(reply)
        assert msg.header.rc != 0
    # a sound header with a broken body: PROTOCOL_ERROR
    bad = bytearray(good)
    struct.pack_into(">I", bad, 44, 1000)  # handle length past the end
    (reply,) = await udp_exchange(wire[1], [bytes(bad)])
    assert codec.decode_message(reply).header.rc == ResponseCode.PROTOCOL_ERROR
    # TCP garbage: the connection closes, the server stays
    for chunk in (b"\x02\x0a" + bytes(18), rng.randbytes(100), good[:30]):
        _, writer = await asyncio.open_connection(*wire)
        writer.write(chunk)
        await writer.drain()
        writer.close()
    rc, _ = await client_resolve(h, wire, "udp")
    assert rc == 1
    rc, _ = await client_resolve(h, wire, "tcp")
    assert rc == 1


async def test_unsupported_opcode_and_admin_over_udp(wire):
    frame = codec.encode_request(OpCode.HOME_NA, bodies.handle_body("0.NA/88.100"), request_id=3)
    (reply,) = await udp_exchange(wire[1], [frame])
    assert codec.decode_message(reply).header.rc == ResponseCode.OPERATION_NOT_SUPPORTED
    frame = codec.encode_request(
        OpCode.DELETE_HANDLE, bodies.handle_body("88.100.1/x"), request_id=4
    )
    (reply,) = await udp_exchange(wire[1], [frame])
    assert codec.decode_message(reply).header.rc == ResponseCode.OPERATION_NOT_SUPPORTED


async def test_app_lifespan_serves_wire_and_survives_a_busy_port(settings):
    import logging
    import socket

    import httpx
    from asgi_lifespan import LifespanManager
    from wire_server_helpers import free_port

    from core.bus import set_bus
    from portal.app import create_app

    class Collect(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.WARNING)
            self.messages: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.messages.append(record.getMessage())

    collect = Collect()
    logging.getLogger("idnest.wire").addHandler(collect)
    port = free_port()
    blockers = [socket.socket(socket.AF_INET, kind) for kind in (socket.SOCK_DGRAM,
                                                                socket.SOCK_STREAM)]  # fmt: skip
    try:
        for b in blockers:  # no SO_REUSEPORT: our bind must fail
            b.bind(("127.0.0.1", port))
        blockers[1].listen()
        set_bus(None)
        app = create_app(
            settings.model_copy(
                update={"wire_port": port, "wire_host": "127.0.0.1", "wire_enabled": True}
            )
        )
        async with LifespanManager(app, startup_timeout=30):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                assert (await c.get("/healthz")).status_code == 200
        assert any("HTTP keeps serving" in m for m in collect.messages)
    finally:
        logging.getLogger("idnest.wire").removeHandler(collect)
        for b in blockers:
            b.close()
        set_bus(None)
    port = free_port()
    app = create_app(
        settings.model_copy(
            update={"wire_port": port, "wire_host": "127.0.0.1", "wire_enabled": True}
        )
    )
    try:
        async with LifespanManager(app, startup_timeout=30):
            rc, site = await client.get_site_info(server=("127.0.0.1", port), transport="tcp")
            assert rc == 1 and isinstance(site, dict)
    finally:
        set_bus(None)


async def test_multi_packet_udp_request_is_reassembled(client, tenant_a, wire):
    h = f"{tenant_a.prefix}/LONGREQ"
    await put(client, tenant_a, h, [url()])
    types = [f"T{'x' * 90}{n}" for n in range(8)] + ["URL"]  # > 512 bytes: several packets
    assert len(bodies.resolution_request_body(h, types=types)) > 512
    rc, values = await client_resolve(h, wire, "udp", types=types)
    assert rc == 1 and [v.type for v in values] == ["URL"]


async def test_repeated_udp_request_is_answered_from_a_template(app, client, tenant_a, settings):
    h = f"{tenant_a.prefix}/TPL"
    await put(client, tenant_a, h, [url()])
    await writes_settled(app.resolver)
    listener, port = await start_listener(app, settings)
    try:
        base = request(h, 1)
        await udp_exchange(port, [base])  # a miss: loads the record through the database
        (first,) = await udp_exchange(port, [base])  # a cache hit: kept as a template
        assert len(listener.server.udp_templates) == 1
        other_ids = base[:4] + struct.pack(">II", 77, 4242) + base[12:]
        (second,) = await udp_exchange(port, [other_ids])
        assert second[4:12] == struct.pack(">II", 77, 4242)
        assert second[:4] + second[12:] == first[:4] + first[12:]  # same answer, its own ids
        # a write replaces the Record: the template is dropped, the new value answered
        await put(client, tenant_a, h, [url(value="https://changed.example/")])
        (third,) = await udp_exchange(port, [other_ids])
        assert b"https://changed.example/" in third
        # a record removed from the cache is never answered from its template
        await client.delete(f"/api/handles/{h}", headers=tenant_a.auth())
        (fourth,) = await udp_exchange(port, [base])
        assert codec.decode_message(fourth).header.rc == ResponseCode.HANDLE_NOT_FOUND
    finally:
        await listener.stop()


async def test_an_erased_tenants_handle_is_rc_100_on_the_wire_and_410_over_http(
    client, tenant_a, wire
):
    from tenants.ownership.services.erasure import erase_tenant

    handle = f"{tenant_a.prefix}/ERASED-1"
    assert (await put(client, tenant_a, handle, [url()])).status_code == 201
    rc, _msg = await client_resolve(handle, wire)
    assert rc == ResponseCode.SUCCESS
    await erase_tenant(tenant_a.prefix, actor="staff:test", reason="wire test")
    for transport in ("udp", "tcp"):
        rc, msg = await client_resolve(handle, wire, transport)
        assert rc == ResponseCode.HANDLE_NOT_FOUND and "erased" in msg
    r = await client.get(f"/api/handles/{handle}")
    assert r.status_code == 410 and r.json()["responseCode"] == 100
