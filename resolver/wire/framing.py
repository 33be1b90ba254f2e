"""Getting whole messages on and off UDP and TCP.

A Handle message can exceed one UDP packet (512 bytes). Like the reference
implementation, a long message is sent as several packets, each with its own envelope:
TRUNCATED set, the sequence number counting from 0, the *total* message length, and up to
492 message bytes. A server that would rather not amplify a small UDP query into many
packets sends only the first one; a client that cannot complete the message then asks
again over TCP (``resolver.wire.client`` does). On TCP a message normally follows a
single envelope; a message split into several envelopes (TRUNCATED, chunks of
262124 bytes) is reassembled too. Several *messages* answering one request (the CONT
op flag, e.g. LIST_HANDLES) are a matter for the caller.

Promises: the :class:`Reassembler` never holds more than ``max_bytes`` of partial
messages nor more than ``max_pending`` of them, drops stale ones after ``timeout``, and
raises only ``ProtocolError`` for bad input; ``read_message`` returns ``None`` on a clean
end of stream and raises ``ProtocolError`` for anything malformed.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Final

from resolver.wire.constants import (
    ENVELOPE_SIZE,
    MAX_TCP_CHUNK,
    MAX_UDP_PACKET,
    TRUNCATED,
)
from resolver.wire.message import Envelope, decode_envelope
from resolver.wire.reader import U32, ProtocolError


def split_for_udp(
    frame: bytes, *, max_packet: int = MAX_UDP_PACKET, max_packets: int | None = None
) -> list[bytes]:
    """The datagrams that carry ``frame`` (one envelope + message).

    With ``max_packets`` and a message needing more, only the first packet is returned:
    the client sees TRUNCATED, cannot complete the message and retries over TCP.
    """
    if len(frame) <= max_packet:
        return [frame]
    chunk = max_packet - ENVELOPE_SIZE
    message = memoryview(frame)[ENVELOPE_SIZE:]
    count = -(-len(message) // chunk)
    if max_packets is not None and count > max_packets:
        count = 1
    first = bytes((frame[0], frame[1], frame[2] | TRUNCATED, frame[3])) + frame[4:12]
    total = U32.pack(len(message))
    return [
        b"".join((first, U32.pack(seq), total, message[seq * chunk : (seq + 1) * chunk]))
        for seq in range(count)
    ]


@dataclass(slots=True)
class _Partial:
    envelope: Envelope
    born: float
    size: int = 0
    parts: dict[int, bytes] = field(default_factory=dict)


class Reassembler:
    """Collects the packets of multi-packet UDP messages, bounded in count, bytes and time."""

    def __init__(
        self,
        *,
        max_pending: int = 256,
        max_bytes: int = 4 * 1024 * 1024,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_pending = max_pending
        self.max_bytes = max_bytes
        self.timeout = timeout
        self._clock = clock
        self._pending: OrderedDict[tuple[Hashable, int], _Partial] = OrderedDict()
        self._bytes = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def buffered_bytes(self) -> int:
        return self._bytes

    def _drop(self, key: tuple[Hashable, int]) -> None:
        partial = self._pending.pop(key, None)
        if partial is not None:
            self._bytes -= partial.size

    def _evict(self, now: float) -> None:
        while self._pending:
            key, oldest = next(iter(self._pending.items()))
            over = len(self._pending) > self.max_pending or self._bytes > self.max_bytes
            if not over and now - oldest.born < self.timeout:
                break
            self._drop(key)

    def feed(self, source: Hashable, packet: bytes) -> tuple[Envelope, bytes] | None:
        """Add one datagram from ``source``; the envelope and whole message once complete."""
        envelope = decode_envelope(packet)
        payload = packet[ENVELOPE_SIZE:]
        if envelope.length == len(payload) and envelope.sequence == 0:
            return envelope, payload
        if not envelope.flags & TRUNCATED:
            raise ProtocolError(f"envelope announces {envelope.length} bytes, got {len(payload)}")
        if not payload or envelope.sequence >= envelope.length:
            raise ProtocolError(f"packet {envelope.sequence} cannot be part of the message")
        now = self._clock()
        key = (source, envelope.request_id)
        partial = self._pending.get(key)
        if partial is None:
            partial = self._pending[key] = _Partial(envelope, now)
        elif partial.envelope.length != envelope.length:
            self._drop(key)
            raise ProtocolError("packets of one message disagree on its length")
        if envelope.sequence in partial.parts:
            return None
        if partial.size + len(payload) > envelope.length:
            self._drop(key)
            raise ProtocolError("packets carry more bytes than the message length")
        partial.parts[envelope.sequence] = payload
        partial.size += len(payload)
        self._bytes += len(payload)
        if partial.size < envelope.length:
            self._evict(now)
            return None
        self._drop(key)
        if sorted(partial.parts) != list(range(len(partial.parts))):
            raise ProtocolError("packet sequence numbers are not contiguous")
        message = b"".join(partial.parts[seq] for seq in range(len(partial.parts)))
        envelope = partial.envelope
        return envelope._replace(flags=envelope.flags & ~TRUNCATED, sequence=0), message


_EMPTY: Final = b""


def take_message(buffer: bytes | bytearray) -> tuple[Envelope, bytes, int] | None:
    """The first whole message in a TCP stream's buffer: its (first) envelope, its
    header+body+credential and how many bytes of ``buffer`` it took; ``None`` while the
    buffer does not hold it all yet. The same checks as ``read_message``."""
    if len(buffer) < ENVELOPE_SIZE:
        return None
    envelope = decode_envelope(buffer)
    if not envelope.flags & TRUNCATED or envelope.length <= MAX_TCP_CHUNK:
        end = ENVELOPE_SIZE + envelope.length
        if len(buffer) < end:
            return None
        return envelope, bytes(buffer[ENVELOPE_SIZE:end]), end
    # A message over one chunk: at most two, as lengths stop at MAX_MESSAGE_LENGTH.
    parts, offset, received, sequence = [], ENVELOPE_SIZE, 0, 0
    while True:
        n = min(MAX_TCP_CHUNK, envelope.length - received)
        if len(buffer) < offset + n:
            return None
        parts.append(bytes(buffer[offset : offset + n]))
        offset, received, sequence = offset + n, received + n, sequence + 1
        if received >= envelope.length:
            return envelope, _EMPTY.join(parts), offset
        if len(buffer) < offset + ENVELOPE_SIZE:
            return None
        more = decode_envelope(buffer, offset)
        if (more.request_id, more.length, more.sequence) != (
            envelope.request_id,
            envelope.length,
            sequence,
        ):
            raise ProtocolError("envelopes of one message disagree")
        offset += ENVELOPE_SIZE


async def read_message(reader: asyncio.StreamReader) -> tuple[Envelope, bytes] | None:
    """One whole message from a TCP stream: its (first) envelope and header+body+credential.

    ``None`` when the peer closed the stream between messages. The bytes are split and
    checked by ``take_message``: a message over one chunk is two (lengths stop at
    MAX_MESSAGE_LENGTH), so its size is known from the first envelope.
    """
    try:
        head = await reader.readexactly(ENVELOPE_SIZE)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ProtocolError("connection closed inside an envelope") from None
        return None
    envelope = decode_envelope(head)
    size = envelope.length
    if envelope.flags & TRUNCATED and envelope.length > MAX_TCP_CHUNK:
        size += ENVELOPE_SIZE
    try:
        got = take_message(head + await reader.readexactly(size))
    except asyncio.IncompleteReadError:
        raise ProtocolError("connection closed inside a message") from None
    assert got is not None  # every byte the envelope announced was read
    return got[0], got[1]
