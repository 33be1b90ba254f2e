"""UDP answers over several datagrams, as hdllib reads them; the bound; the rate budget.

hdllib reads the whole message length from the first datagram, waits for
ceil(length / 492) datagrams and ignores TRUNCATED; ``hdllib_reassemble`` checks the
datagrams exactly that way.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest
from cache_support import writes_settled
from wire_server_helpers import hdllib_reassemble, put, start_listener, udp_exchange

from resolver.wire import bodies, codec
from resolver.wire import client as wire_client
from resolver.wire.constants import TRUNCATED, OpCode, ResponseCode

pytestmark = pytest.mark.anyio


@pytest.fixture
async def wire(app: Any, client: Any, settings: Any) -> Any:
    listener, port = await start_listener(app, settings)
    yield listener, ("127.0.0.1", port)
    await listener.stop()


def request(handle: str, request_id: int = 11, opcode: int = OpCode.RESOLUTION) -> bytes:
    body = (
        bodies.handle_body(handle)
        if opcode == OpCode.GET_SITE_INFO
        else bodies.resolution_request_body(handle)
    )
    return codec.encode_request(opcode, body, request_id=request_id)


def big_values(size: int) -> list[dict[str, Any]]:
    per = 180
    return [
        {"index": i, "type": "URL", "data": f"https://example.com/{'x' * per}/{i}"}
        for i in range(1, size // (per + 60) + 1)
    ]


async def test_a_2000_byte_record_comes_in_several_datagrams(client, tenant_a, wire):
    listener, server = wire
    h = f"{tenant_a.prefix}/BIG2K"
    await put(client, tenant_a, h, big_values(2200))
    await udp_exchange(server[1], [request(h)])  # load it into the cache
    packets = await udp_exchange(server[1], [request(h, 12)])
    msg = hdllib_reassemble(packets, 12)
    assert 1968 < msg.envelope.length <= 2460 and len(packets) == 5  # ~2,000 bytes
    body, _ = bodies.decode_body(msg)
    assert isinstance(body, bodies.ResolutionResponse)
    assert len([v for v in body.values if v.type == "URL"]) == len(big_values(2200))
    (rc, _), via = await wire_client.resolve_routed(h, server=server, transport="udp")
    assert rc == 1 and via == "udp, 5 datagrams"
    assert listener.server.truncated == 0


async def test_prefix_handle_and_site_info_need_no_tcp(client, tenant_a, wire):
    _, server = wire
    packets = await udp_exchange(server[1], [request(f"0.NA/{tenant_a.prefix}", 21)], wait=2)
    assert len(packets) >= 2  # over 512 bytes: the answer that used to time out in hdllib
    msg = hdllib_reassemble(packets, 21)
    assert msg.header.rc == ResponseCode.SUCCESS
    packets = await udp_exchange(server[1], [request("", 22, OpCode.GET_SITE_INFO)])
    msg = hdllib_reassemble(packets, 22)
    body, _ = bodies.decode_body(msg)
    assert isinstance(body, bodies.SiteInfoResponse)
    (rc, _), via = await wire_client.resolve_routed(f"0.NA/{tenant_a.prefix}", server=server)
    assert rc == 1 and via.startswith("udp, ")


async def test_above_the_bound_one_truncated_datagram_then_tcp(app, client, tenant_a, settings):
    h = f"{tenant_a.prefix}/BIG4K"
    await put(client, tenant_a, h, big_values(4500))
    listener, port = await start_listener(app, settings, wire_udp_max_datagrams=4)
    try:
        (packet,) = await udp_exchange(port, [request(h, 31)])
        env = codec.decode_envelope(packet)
        assert packet[2] & TRUNCATED and env.length > 4 * 492 and env.sequence == 0
        (rc, _), via = await wire_client.resolve_routed(h, server=("127.0.0.1", port))
        assert rc == 1 and via == "tcp after udp"
        assert listener.server.truncated >= 1
    finally:
        await listener.stop()


async def test_the_rate_budget_counts_datagrams_not_answers(app, client, tenant_a, settings):
    h = f"{tenant_a.prefix}/BUDGET"
    await put(client, tenant_a, h, big_values(2200))  # 5 datagrams per answer
    await writes_settled(app.resolver)
    listener, port = await start_listener(app, settings, wire_udp_rate=0.5, wire_udp_burst=7)
    try:
        # warm the cache over TCP (which spends no UDP budget), so all four are answered
        # in order on the fast path
        (rc, _), _ = await wire_client.resolve_routed(h, server=("127.0.0.1", port),
                                                      transport="tcp")  # fmt: skip
        assert rc == 1
        got = await udp_exchange(port, [request(h, n) for n in (41, 42, 43, 44)], wait=0.5)
        ids = [struct.unpack_from(">I", p, 8)[0] for p in got]
        # 7 datagrams of budget: the first answer whole (5); the next two cut to their
        # first datagram (TRUNCATED: ask over TCP), as 4 more would overdraw; the fourth
        # request gets nothing.
        assert len(got) == 7
        assert ids.count(41) == 5 and ids.count(42) == 1 and ids.count(43) == 1
        assert all(p[2] & TRUNCATED for p in got if struct.unpack_from(">I", p, 8)[0] != 41)
        assert listener.server.limiter.refused >= 3
    finally:
        await listener.stop()


async def test_single_datagram_answers_are_unchanged(client, tenant_a, wire):
    _, server = wire
    h = f"{tenant_a.prefix}/SMALL"
    await put(client, tenant_a, h, [{"index": 1, "type": "URL", "data": "https://e.x/1"}])
    (packet,) = await udp_exchange(server[1], [request(h, 51)])
    env = codec.decode_envelope(packet)
    assert not packet[2] & TRUNCATED and env.length == len(packet) - 20 and env.sequence == 0
