"""The Handle protocol over HTTP (HS_SITE's HTTP interface), as CNRI-derived clients send it:
``POST /{url-encoded handle}`` with ``application/x-hdl-message`` both ways."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from wire_server_helpers import put

from core.values import value_to_json
from resolver.wire import bodies, codec
from resolver.wire.constants import ENVELOPE_SIZE, OpCode, ResponseCode
from resolver.wire.message import decode_envelope, parse_message

pytestmark = pytest.mark.anyio
HDL = "application/x-hdl-message"
HEADERS = {"Content-Type": HDL, "Accept": HDL, "User-Agent": "CNRI-HCL 2.0"}


def frames(data: bytes) -> list[tuple[Any, Any]]:
    """Every (message, body) in a response: envelope-framed messages back to back."""
    out, at = [], 0
    while at < len(data):
        env = decode_envelope(data, at)
        msg = parse_message(env, data[at + ENVELOPE_SIZE : at + ENVELOPE_SIZE + env.length])
        body, _ = bodies.decode_body(msg)
        out.append((msg, body))
        at += ENVELOPE_SIZE + env.length
    return out


async def post(client: Any, handle: str, frame: bytes) -> Any:
    r = await client.post("/" + quote(handle, safe=""), content=frame, headers=HEADERS)
    assert r.status_code == 200 and r.headers["content-type"] == HDL, r.text
    return frames(r.content)


def resolution(handle: str, request_id: int = 41, **kw: Any) -> bytes:
    body = bodies.resolution_request_body(handle, **kw)
    return codec.encode_request(OpCode.RESOLUTION, body, request_id=request_id)


async def test_resolution_over_http_gives_the_public_values(client, tenant_a):
    h = f"{tenant_a.prefix}/HTTP-1"
    await put(client, tenant_a, h, [
        {"index": 1, "type": "URL", "data": "https://example.com/1"},
        {"index": 5, "type": "NOTE", "data": "internal", "permissions": "1100"},
    ])  # fmt: skip
    expected = (await client.get(f"/api/handles/{h}")).json()["values"]
    for attempt in range(2):  # the first fills the cache, the second is the fast path
        [(msg, body)] = await post(client, h, resolution(h, request_id=41 + attempt))
        assert msg.header.rc == ResponseCode.SUCCESS
        assert msg.envelope.request_id == 41 + attempt
        got = sorted(value_to_json(v)["index"] for v in body.values)
        assert got == sorted(e["index"] for e in expected)
        assert 1 in got and 5 not in got  # the restricted NOTE stays hidden


async def test_errors_are_handle_response_codes(client, tenant_a):
    [(msg, _)] = await post(client, "x", resolution(f"{tenant_a.prefix}/NOPE"))
    assert msg.header.rc == ResponseCode.HANDLE_NOT_FOUND
    [(msg, _)] = await post(client, "x", resolution("99.1/ELSEWHERE"))
    assert msg.header.rc == ResponseCode.SERVER_NOT_RESP
    # Administration needs a connection to answer a challenge on: TCP only.
    create = codec.encode_request(
        OpCode.CREATE_HANDLE, bodies.values_body(f"{tenant_a.prefix}/NEW", []), request_id=9
    )
    [(msg, body)] = await post(client, f"{tenant_a.prefix}/NEW", create)
    assert msg.header.rc == ResponseCode.OPERATION_NOT_SUPPORTED
    assert "TCP" in body.message


async def test_site_info_over_http_matches_the_advertised_site(client):
    frame = codec.encode_request(OpCode.GET_SITE_INFO, bodies.handle_body(""), request_id=3)
    r = await client.post("/", content=frame, headers=HEADERS)
    [(msg, body)] = frames(r.content)
    assert msg.header.rc == ResponseCode.SUCCESS
    interfaces = body.site["servers"][0]["interfaces"]
    http = [i for i in interfaces if i["protocol"] == "HTTP"]
    # Queries only: administration over HTTP is not offered, so not advertised.
    assert http and not http[0]["admin"] and http[0]["query"]


async def test_bad_bodies_get_protocol_errors_or_a_problem(client, tenant_a):
    # A readable envelope with a broken message: answered, as over TCP, with PROTOCOL_ERROR.
    frame = bytearray(resolution(f"{tenant_a.prefix}/X", request_id=77))
    frame[ENVELOPE_SIZE + 20 : ENVELOPE_SIZE + 24] = (1 << 20).to_bytes(4, "big")  # body length
    [(msg, _)] = await post(client, "x", bytes(frame))
    assert msg.header.rc == ResponseCode.PROTOCOL_ERROR and msg.envelope.request_id == 77
    # Bytes with no envelope to answer to, or another content type: a problem, not a 500.
    r = await client.post("/88.100/x", content=b"\x02\x0a" + b"\x00" * 30, headers=HEADERS)
    assert r.status_code == 400 and "envelope announces 0 bytes" in r.json()["detail"]
    r = await client.post("/88.100/x", content=b"hello", headers={"Content-Type": "text/plain"})
    assert r.status_code == 400 and "application/x-hdl-message" in r.json()["detail"]
    too_big = b"\x00" * (ENVELOPE_SIZE + 262144 + 1)
    r = await client.post("/88.100/x", content=too_big, headers=HEADERS)
    assert r.status_code == 413


def test_the_advertised_http_port_follows_the_setting(settings):
    from resolver.wire.nodesite import node_site

    def http_port(s: Any) -> int:
        interfaces = node_site(s)["servers"][0]["interfaces"]
        return next(i["port"] for i in interfaces if i["protocol"] == "HTTP")

    assert http_port(settings) == settings.port
    assert http_port(settings.model_copy(update={"site_http_port": 80})) == 80
