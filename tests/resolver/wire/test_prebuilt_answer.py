"""A cached UDP answer is prebuilt bytes: for two requests that differ only in their
request id, the answers differ only in the request id, and both decode (wire codec) to
the record's public values."""

from __future__ import annotations

from typing import Any

from core.bus import InvalidationBus
from core.values import HandleValue, ValueData
from resolver.cache import build_record
from resolver.runtime import build_resolver
from resolver.wire import bodies, codec
from resolver.wire.constants import OpCode
from resolver.wire.message import decode_message
from resolver.wire.server import WireServer

TS = "2026-11-24T00:00:00Z"
VALUES = [
    HandleValue(1, "URL", ValueData("string", "https://example.com/p/1"), timestamp=TS),
    HandleValue(2, "EMAIL", ValueData("string", "ops@example.com"), timestamp=TS),
    HandleValue(3, "SECRET", ValueData("string", "not for you"), timestamp=TS, permissions="1100"),
]


def answers(settings: Any, request_ids: list[int]) -> tuple[list[bytes], WireServer]:
    resolver = build_resolver(settings, InvalidationBus())
    server = WireServer(resolver, settings)
    resolver.cache.put("88.100.1/p-1", build_record(1, "88.100.1/P-1", VALUES), 0)
    sent: list[bytes] = []
    body = bodies.resolution_request_body("88.100.1/P-1")
    for rid in request_ids:
        frame = codec.encode_request(OpCode.RESOLUTION, body, request_id=rid)
        server.datagram(frame, ("192.0.2.7", 4000), lambda reply, _addr: sent.append(reply))
    return sent, server


def test_two_request_ids_get_the_same_bytes_but_the_id(settings: Any) -> None:
    (first, second, third), server = answers(settings, [0x01020304, 0x0A0B0C0D, 77])
    assert server.udp_templates  # the later answers came from the prebuilt bytes
    assert first[8:12] == bytes([1, 2, 3, 4]) and second[8:12] == bytes([10, 11, 12, 13])
    assert first[:8] == second[:8] and first[12:] == second[12:]
    assert [i for i in range(len(first)) if first[i] != third[i]] == [
        i for i in range(8, 12) if first[i] != third[i]
    ]
    for reply, rid in ((first, 0x01020304), (second, 0x0A0B0C0D), (third, 77)):
        msg = decode_message(reply)
        assert msg.envelope.request_id == rid
        body, _ = bodies.decode_body(msg)
        assert isinstance(body, bodies.ResolutionResponse)
        assert body.handle == b"88.100.1/P-1"
        assert [(v.index, v.type, v.data.value) for v in body.values] == [
            (1, "URL", "https://example.com/p/1"), (2, "EMAIL", "ops@example.com"),
        ]  # fmt: skip


def test_an_invalidated_record_is_not_answered_from_its_old_bytes(settings: Any) -> None:
    _, server = answers(settings, [5])
    server.cache.on_invalidate("rec:88.100.1/p-1")
    record = build_record(1, "88.100.1/P-1", VALUES[1:])
    server.cache.put("88.100.1/p-1", record, server.cache.generation)
    sent: list[bytes] = []
    frame = codec.encode_request(
        OpCode.RESOLUTION, bodies.resolution_request_body("88.100.1/P-1"), request_id=6
    )
    server.datagram(frame, ("192.0.2.7", 4000), lambda reply, _addr: sent.append(reply))
    body, _ = bodies.decode_body(decode_message(sent[0]))
    assert isinstance(body, bodies.ResolutionResponse)
    assert [v.index for v in body.values] == [2]
