"""The wire door over TCP: one connection, its messages in turn (``WireServer.stream``)."""

from __future__ import annotations

import asyncio
from time import perf_counter

from resolver.observability.metering import record as meter_resolution
from resolver.observability.metering import wire_result
from resolver.wire import codec
from resolver.wire.bodies import ResolutionRequest, decode_body
from resolver.wire.challenges import Connection
from resolver.wire.constants import TRUNCATED, ResponseCode
from resolver.wire.framing import read_message
from resolver.wire.message import ENVELOPE, Envelope, parse_message
from resolver.wire.reader import ProtocolError
from resolver.wire.server import (
    MAX_AUTH_FAILURES,
    MAX_CONNECTIONS,
    TCP_IDLE_TIMEOUT,
    WireServer,
    log,
)


async def serve_stream(
    server: WireServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    conn = Connection(writer.get_extra_info("peername"))
    if server.connections >= MAX_CONNECTIONS:
        server.dropped += 1
        writer.close()
        return
    server.connections += 1
    try:
        while conn.failures < MAX_AUTH_FAILURES:
            try:
                async with asyncio.timeout(TCP_IDLE_TIMEOUT):
                    got = await read_message(reader)
            except (ProtocolError, TimeoutError):
                return  # out of step with the stream: nothing sensible to answer
            if got is None:
                return
            frames = await tcp_message(server, *got, conn)
            if frames:
                writer.write(b"".join(frames))
                await writer.drain()
    except (ConnectionError, OSError):
        pass
    except Exception:
        log.exception("wire TCP connection from %s failed", conn.peer)
    finally:
        server.connections -= 1
        writer.close()


async def tcp_message(
    server: WireServer, env: Envelope, message: bytes, conn: Connection
) -> list[bytes]:
    try:
        msg = parse_message(env, message)
        if msg.header.rc != 0:
            raise ProtocolError("a response was sent to the server")
        body, _ = decode_body(msg)
    except ProtocolError as exc:
        head = ENVELOPE.pack(env.major, env.minor, (env.flags & ~TRUNCATED) | env.suggest_major,
                             env.suggest_minor,
                             env.session_id, env.request_id, 0, len(message))  # fmt: skip
        reply = codec.encode_protocol_error(head + message, exc)
        return [reply] if reply is not None else []
    if not server.requests.allow(conn.source):
        return [codec.encode_error_response(
            msg.envelope, msg.header, ResponseCode.SERVER_TOO_BUSY,
            "too many requests from this address; slow down",
        )]  # fmt: skip
    started = perf_counter()
    reply = server.fast(msg, body, tcp=True)
    if reply is not None:
        if server._last_hit is not None:
            meter_resolution("wire-tcp", "ok", started, server._last_hit[0], conn.source)
        return [reply]
    frames = await server.answer(msg, body, conn)
    if type(body) is ResolutionRequest:
        identifier = body.handle.decode("utf-8", "replace")
        meter_resolution("wire-tcp", wire_result(frames), started, identifier, conn.source)
    return frames
