"""The wire door's TCP connections (resolver.wire.tcp): order, templates, bounds, timeouts.

Real sockets and bytes against the app's resolver; what a Handle client on a persistent
connection would notice.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import pytest
from cache_support import writes_settled
from wire_server_helpers import put, start_listener

from resolver.wire import bodies, codec, tcp
from resolver.wire.constants import OpCode, ResponseCode
from resolver.wire.framing import read_message, take_message
from resolver.wire.message import Message, parse_message
from resolver.wire.reader import ProtocolError

pytestmark = pytest.mark.anyio


def request(handle: str, request_id: int) -> bytes:
    body = bodies.resolution_request_body(handle)
    return codec.encode_request(OpCode.RESOLUTION, body, request_id=request_id)


def url(data: str) -> list[dict[str, Any]]:
    return [{"index": 1, "type": "URL", "data": data}]


async def answers(reader: asyncio.StreamReader, n: int) -> list[Message]:
    out = []
    for _ in range(n):
        got = await asyncio.wait_for(read_message(reader), 10)
        assert got is not None
        out.append(parse_message(*got))
    return out


@pytest.fixture
async def wire(app: Any, client: Any, settings: Any) -> Any:
    listener, port = await start_listener(app, settings)
    yield listener, port
    await listener.stop()


async def test_pipelined_requests_are_answered_in_order_and_hits_become_templates(
    client, tenant_a, wire
):
    listener, port = wire
    cached, missed = f"{tenant_a.prefix}/TCP-HOT", f"{tenant_a.prefix}/TCP-COLD"
    for h in (cached, missed):
        await put(client, tenant_a, h, url(f"https://x/{h}"))
    await writes_settled(listener.server.resolver)  # no late echo drops the cached copy
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request(cached, 1))  # a miss: loaded, then cached
        (first,) = await answers(reader, 1)
        assert first.header.rc == ResponseCode.SUCCESS
        # In one write: a hit, a miss (a task), an unknown handle, and the hit again.
        # The answers come in the requests' order whatever each one costs.
        unknown = f"{tenant_a.prefix}/TCP-NONE"
        writer.write(request(cached, 2) + request(missed, 3) + request(unknown, 4)
                     + request(cached, 5))  # fmt: skip
        got = await answers(reader, 4)
        assert [m.envelope.request_id for m in got] == [2, 3, 4, 5]
        assert [m.header.rc for m in got] == [1, 1, ResponseCode.HANDLE_NOT_FOUND, 1]
        assert listener.server.tcp_templates  # the repeated hit was answered from bytes
        assert got[3].frame == got[0].frame  # the same answer (the ids are in the envelope)
    finally:
        writer.close()


async def test_a_template_dies_with_the_record(client, tenant_a, wire):
    _, port = wire
    h = f"{tenant_a.prefix}/TCP-CHANGE"
    await put(client, tenant_a, h, url("https://old"))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for rid in (1, 2, 3):  # miss, hit (kept), template
            writer.write(request(h, rid))
            await answers(reader, 1)
        await put(client, tenant_a, h, url("https://new"))
        writer.write(request(h, 4))
        (after,) = await answers(reader, 1)
        assert b"https://new" in after.frame and b"https://old" not in after.frame
    finally:
        writer.close()


async def test_out_of_step_stream_is_closed_and_the_server_keeps_serving(client, tenant_a, wire):
    _, port = wire
    h = f"{tenant_a.prefix}/TCP-OK"
    await put(client, tenant_a, h, url("https://ok"))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    # An envelope announcing more than any message may hold: no answer, the stream ends.
    writer.write(struct.pack(">BBBBIIII", 2, 10, 0, 0, 0, 9, 0, 1 << 30))
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request(h, 1))
        (ok,) = await answers(reader, 1)
        assert ok.header.rc == 1
    finally:
        writer.close()


async def test_a_connection_that_trickles_is_closed_after_the_idle_timeout(
    tenant_a, wire, monkeypatch
):
    monkeypatch.setattr(tcp, "TCP_IDLE_TIMEOUT", 1.0)
    _, port = wire
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    frame = request(f"{tenant_a.prefix}/SLOW", 1)
    started = asyncio.get_running_loop().time()
    try:
        for byte in frame[:30]:  # a byte every 0.2 s never completes a message
            writer.write(bytes([byte]))
            await writer.drain()
            if reader.at_eof():
                break
            await asyncio.sleep(0.2)
            if reader.at_eof() or writer.is_closing():
                break
        assert await asyncio.wait_for(reader.read(), 5) == b""
        assert asyncio.get_running_loop().time() - started < 4
    finally:
        writer.close()


async def test_a_peer_that_never_reads_cannot_grow_the_server_buffer(client, tenant_a, wire):
    _listener, port = wire
    h = f"{tenant_a.prefix}/TCP-FLOOD"
    await put(client, tenant_a, h, url("x" * 400))
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    frames = b"".join(request(h, i) for i in range(2000))
    try:
        for _ in range(20):  # ~2 MB of requests, none of the answers read
            writer.write(frames)
            try:
                await asyncio.wait_for(writer.drain(), 0.5)
            except TimeoutError:
                break  # the server stopped reading: what a bounded buffer looks like
        streams = [s for s in _streams() if s.conn is not None]
        # Reading pauses once the buffer is past the bound: one more read at most (the
        # event loop reads up to 256 KiB at a time).
        bound = tcp.MAX_BUFFERED + 256 * 1024
        assert streams and all(len(s.buffer) <= bound for s in streams), [
            len(s.buffer) for s in streams
        ]
        assert any(s.reading_paused or s.writing_paused for s in streams)
    finally:
        writer.transport.abort()


def _streams() -> list[tcp.WireStream]:
    import gc

    return [o for o in gc.get_objects() if isinstance(o, tcp.WireStream)]


def test_take_message_waits_for_whole_messages_and_refuses_bad_envelopes():
    frame = request("88.100.1/x", 9)
    buf = bytearray(frame[:10])
    assert take_message(buf) is None
    buf += frame[10:-1]
    assert take_message(buf) is None
    buf += frame[-1:] + frame[:5]
    env, message, used = take_message(buf)  # type: ignore[misc]
    assert env.request_id == 9 and used == len(frame) and message == frame[20:]
    with pytest.raises(ProtocolError):
        take_message(struct.pack(">BBBBIIII", 2, 10, 0, 0, 0, 9, 0, 1 << 30))
