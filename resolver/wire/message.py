"""RFC 3652 framing of one message: the 20-byte envelope and the 24-byte header.

Every message a peer sends is checked here before anything reads its body: the envelope
length is capped at 262144 and must match the bytes that arrived, the body length must
fit inside the message, and what follows the body must be exactly a credential (4-byte
length + that many bytes) or nothing. Failures raise ``ProtocolError`` only.

Layouts: envelope = major, minor, flags|suggested-major, suggested-minor (1 each),
session id, request id, sequence number, message length (4 each). Header = opcode,
response code, op flags (4 each), site-info serial (2), recursion count (1), reserved
(1), expiration (4), body length (4).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final, NamedTuple

from resolver.wire.constants import (
    ENVELOPE_SIZE,
    HEADER_SIZE,
    MAX_MESSAGE_LENGTH,
    TRUNCATED,
    UNSUPPORTED_ENVELOPE,
    ResponseCode,
)
from resolver.wire.reader import U32, ProtocolError, Reader

ENVELOPE: Final = struct.Struct(">BBBBIIII")
HEADER: Final = struct.Struct(">IIIHBBII")


class Envelope(NamedTuple):
    major: int
    minor: int
    flags: int
    """EnvelopeFlag bits (COMPRESSED, ENCRYPTED, TRUNCATED)."""
    suggest_major: int
    suggest_minor: int
    session_id: int
    request_id: int
    sequence: int
    length: int
    """Length of the whole message (header + body + credential), not of this packet."""


class Header(NamedTuple):
    opcode: int
    rc: int
    op_flags: int
    site_serial: int
    recursion: int
    expiration: int
    body_length: int


@dataclass(frozen=True, slots=True)
class Message:
    """One decoded message; ``frame[start:]`` is header + body + credential."""

    envelope: Envelope
    header: Header
    frame: bytes
    start: int

    @property
    def is_request(self) -> bool:
        return self.header.rc == 0

    @property
    def body(self) -> bytes:
        begin = self.start + HEADER_SIZE
        return self.frame[begin : begin + self.header.body_length]

    @property
    def signed(self) -> bytes:
        """Header + body: what request digests and signatures cover."""
        return self.frame[self.start : self.start + HEADER_SIZE + self.header.body_length]

    @property
    def credential(self) -> bytes:
        return self.frame[self.start + HEADER_SIZE + self.header.body_length + 4 :]

    def reader(self) -> Reader:
        """A reader over the body alone."""
        begin = self.start + HEADER_SIZE
        return Reader(self.frame, begin, begin + self.header.body_length)


def decode_envelope(data: bytes | bytearray, offset: int = 0) -> Envelope:
    """The envelope at ``offset``; refuses short input and lengths over 262144."""
    if len(data) - offset < ENVELOPE_SIZE:
        raise ProtocolError(f"truncated envelope: {len(data) - offset} of 20 bytes")
    major, minor, flags, s_minor, session, request, seq, length = ENVELOPE.unpack_from(data, offset)
    if length > MAX_MESSAGE_LENGTH:
        raise ProtocolError(f"message length {length} exceeds {MAX_MESSAGE_LENGTH}")
    return Envelope(
        major, minor, flags & 0xE0, flags & 0x03, s_minor, session, request, seq, length
    )


def parse_message(envelope: Envelope, data: bytes, start: int = 0) -> Message:
    """Check and split ``data[start:]`` (header + body + credential) into a Message."""
    if envelope.flags & UNSUPPORTED_ENVELOPE:
        raise ProtocolError(
            "compressed or encrypted messages are not supported",
            rc=ResponseCode.OPERATION_NOT_SUPPORTED,
        )
    size = len(data) - start
    if size != envelope.length:
        raise ProtocolError(f"envelope announces {envelope.length} bytes, got {size}")
    if size < HEADER_SIZE:
        raise ProtocolError(f"truncated header: {size} of 24 bytes")
    opcode, rc, op_flags, serial, recursion, _, expiration, body_length = HEADER.unpack_from(
        data, start
    )
    rest = size - HEADER_SIZE - body_length
    if rest < 0:
        raise ProtocolError(
            f"body length {body_length} exceeds the {size - HEADER_SIZE} bytes left"
        )
    if rest:
        if rest < 4:
            raise ProtocolError(f"{rest} stray bytes after the body")
        (cred_length,) = U32.unpack_from(data, start + HEADER_SIZE + body_length)
        if cred_length != rest - 4:
            raise ProtocolError(f"credential length {cred_length} does not match {rest - 4}")
    header = Header(opcode, rc, op_flags, serial, recursion, expiration, body_length)
    return Message(envelope, header, data, start)


def decode_message(frame: bytes) -> Message:
    """One complete single-envelope frame (a UDP datagram, or envelope + message)."""
    envelope = decode_envelope(frame)
    if envelope.flags & TRUNCATED and envelope.length != len(frame) - ENVELOPE_SIZE:
        raise ProtocolError("one packet of a multi-packet message; reassemble it first")
    return parse_message(envelope, frame, ENVELOPE_SIZE)
