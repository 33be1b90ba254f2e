"""The wire door over TCP: one connection, its messages answered in turn.

Why a Protocol and not streams: with one request in flight per connection (how Handle
clients talk), a streams server pays a task wake-up, an idle-timeout context and a
drain per message. Here a cached public resolution is answered inside
``data_received`` from a prebuilt template or ``WireServer.fast``, with no task and no
await; anything else (a miss, a challenge, an admin operation) runs as one task at a
time, and nothing after it is answered before it, so answers keep the requests' order.

Promises: reading pauses once the connection's buffer holds more than one whole message
(``MAX_BUFFERED``; so it is bounded by that plus one read), and answering pauses while
the peer does not read its answers (the transport's write buffer is past its high mark);
a connection idle for ``TCP_IDLE_TIMEOUT`` between messages is closed, whatever
trickles in; a stream that is out of step (a malformed envelope) is closed without an
answer; after ``MAX_AUTH_FAILURES`` failed challenge answers the connection is closed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from time import perf_counter

from resolver.observability.metering import record as meter_resolution
from resolver.observability.metering import wire_result
from resolver.wire import codec
from resolver.wire.bodies import ResolutionRequest, decode_body
from resolver.wire.challenges import Connection
from resolver.wire.constants import ENVELOPE_SIZE, MAX_MESSAGE_LENGTH, TRUNCATED, ResponseCode
from resolver.wire.framing import take_message
from resolver.wire.message import ENVELOPE, Envelope, parse_message
from resolver.wire.reader import ProtocolError
from resolver.wire.server import (
    MAX_AUTH_FAILURES,
    MAX_CONNECTIONS,
    TCP_IDLE_TIMEOUT,
    TCP_TEMPLATE_LIMIT,
    WireServer,
    log,
)

# One whole message (a long one comes in two envelopes) may wait in the buffer.
MAX_BUFFERED = MAX_MESSAGE_LENGTH + 2 * ENVELOPE_SIZE


class WireStream(asyncio.Protocol):
    """One TCP connection of the wire door (``loop.create_server`` makes one each)."""

    def __init__(self, server: WireServer) -> None:
        self.server = server
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.conn: Connection | None = None
        self.task: asyncio.Task[None] | None = None
        self.writing_paused = False  # the peer is not reading its answers
        self.reading_paused = False
        self.since = time.monotonic()  # the last whole message (or answer) on it
        self.timer: asyncio.TimerHandle | None = None

    # --- transport callbacks ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.server.connections >= MAX_CONNECTIONS:
            self.server.dropped += 1
            transport.close()
            return
        self.server.connections += 1
        self.conn = Connection(transport.get_extra_info("peername"))
        self.timer = asyncio.get_running_loop().call_later(TCP_IDLE_TIMEOUT, self._idle)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.conn is not None:
            self.server.connections -= 1
            self.conn = None
        if self.timer is not None:
            self.timer.cancel()
        if self.task is not None:
            self.task.cancel()
        self.transport = None

    def data_received(self, data: bytes) -> None:
        if self.conn is None:
            return
        self.buffer += data
        if self.task is None and not self.writing_paused:
            self._serve()
        if len(self.buffer) > MAX_BUFFERED and self.transport is not None:
            self.reading_paused = True
            self.transport.pause_reading()

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        if self.task is None:
            self._serve()

    # --- answering ----------------------------------------------------------------------

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _idle(self) -> None:
        if self.transport is None:
            return
        idle = time.monotonic() - self.since
        if self.task is None and idle >= TCP_IDLE_TIMEOUT:
            self._close()
            return
        delay = TCP_IDLE_TIMEOUT - idle if self.task is None else TCP_IDLE_TIMEOUT
        self.timer = asyncio.get_running_loop().call_later(max(delay, 1.0), self._idle)

    def _serve(self) -> None:
        """Answer the whole messages in the buffer, in order, until one needs a task."""
        try:
            while self.task is None and not self.writing_paused:
                transport = self.transport
                if transport is None:
                    return
                got = take_message(self.buffer)
                if got is None:
                    break
                env, message, used = got
                head = bytes(self.buffer[:ENVELOPE_SIZE])
                del self.buffer[:used]
                self.since = time.monotonic()
                reply, admitted = self._now(head, env, message)
                if reply is not None:
                    transport.write(reply)
                else:
                    self.task = asyncio.get_running_loop().create_task(
                        self._later(env, message, admitted=admitted)
                    )
        except ProtocolError:
            self._close()  # out of step with the stream: nothing sensible to answer
            return
        except Exception:
            log.exception("wire TCP connection from %s failed", self.conn and self.conn.peer)
            self._close()
            return
        if self.reading_paused and len(self.buffer) <= MAX_BUFFERED and self.transport:
            self.reading_paused = False
            self.transport.resume_reading()

    def _now(self, head: bytes, env: Envelope, message: bytes) -> tuple[bytes | None, bool]:
        """The answer if it needs no waiting (a cached public resolution), else None; and
        whether the message was already counted against its source's rate."""
        server, conn = self.server, self.conn
        assert conn is not None
        if len(message) > TCP_TEMPLATE_LIMIT or not server.requests.allow(conn.source):
            return None, False  # tcp_message answers (and refuses a source over its rate)
        started = perf_counter()
        data = head + message
        hit = server.tcp_templates.answer(data, server.cache, server.counters)
        if hit is None:
            try:
                msg = parse_message(env, message)
                if msg.header.rc != 0:
                    return None, True
                body, _ = decode_body(msg)
                hit = server.cached_answer(data, msg, body, tcp=True)
            except Exception:
                return None, True  # the slow path answers (or refuses) properly
            if hit is None:
                return None, True
        meter_resolution("wire-tcp", "ok", started, hit[0], conn.source)
        return hit[1], True

    async def _later(self, env: Envelope, message: bytes, *, admitted: bool = False) -> None:
        conn = self.conn
        if conn is None:
            return
        try:
            frames = await tcp_message(self.server, env, message, conn, admitted=admitted)
            if frames and self.transport is not None:
                self.transport.write(b"".join(frames))
        except Exception:
            log.exception("wire TCP connection from %s failed", conn.peer)
            self._close()
            return
        finally:
            self.task = None
        self.since = time.monotonic()
        if conn.failures >= MAX_AUTH_FAILURES:
            self._close()
            return
        self._serve()


async def tcp_message(
    server: WireServer, env: Envelope, message: bytes, conn: Connection, *,
    admitted: bool = False,
) -> list[bytes]:  # fmt: skip
    """Every frame answering one TCP message (``admitted``: its rate was counted)."""
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
    if not admitted and not server.requests.allow(conn.source):
        return [codec.encode_error_response(
            msg.envelope, msg.header, ResponseCode.SERVER_TOO_BUSY,
            "too many requests from this address; slow down",
        )]  # fmt: skip
    started = perf_counter()
    frames = await server.answer(msg, body, conn)
    if type(body) is ResolutionRequest:
        identifier = body.handle.decode("utf-8", "replace")
        meter_resolution("wire-tcp", wire_result(frames), started, identifier, conn.source)
    return frames


def stream_protocol(server: WireServer) -> Callable[[], WireStream]:
    """The protocol factory for ``loop.create_server``."""
    return lambda: WireStream(server)
