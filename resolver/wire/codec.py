"""RFC 3652 messages on the wire: what the wire server and the client encode and decode.

This is the codec's front door; it is pure (no I/O) and promises:

* ``decode_message`` / ``parse_message`` (from ``resolver.wire.message``) accept any
  bytes and either return a consistent :class:`Message` or raise :class:`ProtocolError`,
  whose ``rc`` is the response code to answer with; ``encode_protocol_error`` builds that
  answer when the envelope and header are sound enough to address one.
* Encoders build complete frames (envelope + header + body + 4-byte credential length,
  0 when unsigned) in one join. ``encode_resolution_response`` splices a value list the
  resolver cached (``encode_values``) without touching the values again.
* Responses repeat the request's session and request ids, answer in the client's
  protocol version (capped at ours, 2.10), suggest ours, and repeat its AUTH, CACR, PUBL
  and DNRF flags, as the reference server does. A request digest, when given, sets RRDG
  and leads the body.

Bodies (resolution, site info, admin operations, challenge/response, errors) are decoded
and built in ``resolver.wire.bodies``; value records in ``resolver.wire.values``.
"""

from __future__ import annotations

import hashlib
import struct
import time
from collections.abc import Iterable, Sequence
from typing import Final

from resolver.wire.constants import (
    CONT,
    DEFAULT_REQUEST_FLAGS,
    DIGEST_SIZES,
    ENVELOPE_SIZE,
    HEADER_SIZE,
    MAX_MESSAGE_LENGTH,
    PROTOCOL_VERSION,
    REPLY_ECHO_FLAGS,
    RRDG,
    UNKNOWN_SITE_SERIAL,
    EnvelopeFlag,
    HashCode,
    OpCode,
    OpFlag,
    ResponseCode,
)
from resolver.wire.message import (
    HEADER,
    Envelope,
    Header,
    Message,
    decode_envelope,
    decode_message,
    parse_message,
)
from resolver.wire.reader import U32, EncodeError, ProtocolError
from resolver.wire.values import encode_value, encode_values, join_encoded

__all__ = [
    "EncodeError",
    "Envelope",
    "EnvelopeFlag",
    "HashCode",
    "Header",
    "Message",
    "OpCode",
    "OpFlag",
    "ProtocolError",
    "ResponseCode",
    "decode_envelope",
    "decode_message",
    "encode_challenge",
    "encode_error_response",
    "encode_list_handles_response",
    "encode_protocol_error",
    "encode_referral",
    "encode_request",
    "encode_resolution_response",
    "encode_response",
    "encode_site_info_response",
    "encode_success",
    "encode_value",
    "encode_values",
    "encode_verify_challenge_response",
    "join_encoded",
    "parse_message",
    "request_digest",
]

_FRAME: Final = struct.Struct(">BBBBIIIIIIIHBBII")  # envelope + header in one pack
_NO_CREDENTIAL: Final = b"\x00\x00\x00\x00"
_OUR_MAJOR, _OUR_MINOR = PROTOCOL_VERSION
_TWELVE_HOURS: Final = 43200


def _expiration(expiration: int | None) -> int:
    return int(time.time()) + _TWELVE_HOURS if expiration is None else expiration


def _reply_version(envelope: Envelope) -> tuple[int, int]:
    if (envelope.major, envelope.minor) < PROTOCOL_VERSION:
        return envelope.major, envelope.minor
    return PROTOCOL_VERSION


def _frame(
    major: int,
    minor: int,
    session_id: int,
    request_id: int,
    opcode: int,
    rc: int,
    op_flags: int,
    site_serial: int,
    recursion: int,
    expiration: int,
    body: Sequence[bytes],
    credential: bytes = b"",
) -> bytes:
    body_length = sum(map(len, body))
    length = HEADER_SIZE + body_length + 4 + len(credential)
    if length > MAX_MESSAGE_LENGTH:
        raise EncodeError(f"message of {length} bytes exceeds {MAX_MESSAGE_LENGTH}")
    head = _FRAME.pack(
        major, minor, _OUR_MAJOR, _OUR_MINOR, session_id, request_id, 0, length,
        opcode, rc, op_flags, site_serial, recursion, 0, expiration, body_length,
    )  # fmt: skip
    tail = U32.pack(len(credential)) + credential if credential else _NO_CREDENTIAL
    return b"".join((head, *body, tail))


def encode_request(
    opcode: int,
    body: bytes,
    *,
    request_id: int,
    op_flags: int = DEFAULT_REQUEST_FLAGS,
    session_id: int = 0,
    version: tuple[int, int] = PROTOCOL_VERSION,
    site_serial: int = UNKNOWN_SITE_SERIAL,
    recursion: int = 0,
    expiration: int | None = None,
    credential: bytes = b"",
) -> bytes:
    """A request frame; build ``body`` with the ``resolver.wire.bodies`` helpers."""
    return _frame(
        version[0], version[1], session_id, request_id, opcode, 0, op_flags,
        site_serial, recursion, _expiration(expiration), (body,), credential,
    )  # fmt: skip


def encode_response(
    envelope: Envelope,
    header: Header,
    rc: int,
    body: Sequence[bytes] = (),
    *,
    digest: bytes = b"",
    op_flags: int = 0,
    site_serial: int = 0,
    expiration: int | None = None,
) -> bytes:
    """A response to the request described by ``envelope``/``header``.

    ``digest`` is the request digest (``request_digest``); when given, the RRDG flag is
    set and the digest leads the body. The request's AUTH, CACR, PUBL and DNRF flags
    are repeated, as the reference server does.
    """
    flags = (header.op_flags & REPLY_ECHO_FLAGS) | op_flags | (RRDG if digest else 0)
    major, minor = _reply_version(envelope)
    return _frame(
        major, minor, envelope.session_id, envelope.request_id, header.opcode, rc, flags,
        site_serial, header.recursion, _expiration(expiration), (digest, *body),
    )  # fmt: skip


def encode_resolution_response(
    envelope: Envelope,
    header: Header,
    handle: bytes,
    values_block: bytes,
    *,
    digest: bytes = b"",
    site_serial: int = 0,
    expiration: int | None = None,
) -> bytes:
    """The hot path: a RESOLUTION success with a pre-encoded value list.

    ``handle`` is the handle as the client sent it (bytes); ``values_block`` comes from
    ``encode_values`` / ``join_encoded`` and starts with the value count.
    """
    body_length = len(digest) + 4 + len(handle) + len(values_block)
    length = HEADER_SIZE + body_length + 4
    if length > MAX_MESSAGE_LENGTH:
        raise EncodeError(f"message of {length} bytes exceeds {MAX_MESSAGE_LENGTH}")
    major, minor = envelope.major, envelope.minor
    if (major, minor) > PROTOCOL_VERSION:
        major, minor = PROTOCOL_VERSION
    head = _FRAME.pack(
        major, minor, _OUR_MAJOR, _OUR_MINOR, envelope.session_id, envelope.request_id, 0,
        length, 1, 1, (header.op_flags & REPLY_ECHO_FLAGS) | (RRDG if digest else 0),
        site_serial, header.recursion, 0,
        int(time.time()) + _TWELVE_HOURS if expiration is None else expiration, body_length,
    )  # fmt: skip
    return b"".join((head, digest, U32.pack(len(handle)), handle, values_block, _NO_CREDENTIAL))


def _blob(raw: bytes) -> bytes:
    return U32.pack(len(raw)) + raw


def encode_error_response(
    envelope: Envelope,
    header: Header,
    rc: int,
    message: str = "",
    *,
    indices: Sequence[int] = (),
    digest: bytes = b"",
    expiration: int | None = None,
) -> bytes:
    """An error (RFC 3652 §3.3): UTF-8 message, then the offending indices if any."""
    body = [_blob(message.encode("utf-8", "replace"))]
    if indices:
        body.append(U32.pack(len(indices)) + struct.pack(f">{len(indices)}i", *indices))
    return encode_response(envelope, header, rc, body, digest=digest, expiration=expiration)


def encode_challenge(
    envelope: Envelope,
    header: Header,
    nonce: bytes,
    digest: bytes,
    *,
    expiration: int | None = None,
) -> bytes:
    """AUTHENTICATION_NEEDED (402): request digest, then the nonce the client must sign.

    The client signs nonce + digest, so the digest is mandatory here.
    """
    if not digest:
        raise EncodeError("a challenge must carry the request digest")
    return encode_response(
        envelope, header, ResponseCode.AUTHENTICATION_NEEDED, [_blob(nonce)], digest=digest,
        expiration=expiration,
    )  # fmt: skip


def encode_site_info_response(
    envelope: Envelope, header: Header, site: bytes, *, digest: bytes = b"", site_serial: int = 0
) -> bytes:
    """GET_SITE_INFO success: the binary HS_SITE record (``site.encode_site``) as the body."""
    return encode_response(
        envelope, header, ResponseCode.SUCCESS, [site], digest=digest, site_serial=site_serial
    )


def encode_list_handles_response(
    envelope: Envelope,
    header: Header,
    handles: Iterable[bytes],
    *,
    more: bool = False,
    digest: bytes = b"",
) -> bytes:
    """One LIST_HANDLES (or LIST_HOMED_NAS) answer part; ``more`` sets CONT."""
    items = [_blob(h) for h in handles]
    return encode_response(
        envelope, header, ResponseCode.SUCCESS, [U32.pack(len(items)), *items], digest=digest,
        op_flags=CONT if more else 0,
    )  # fmt: skip


def encode_verify_challenge_response(
    envelope: Envelope, header: Header, valid: bool, *, digest: bytes = b""
) -> bytes:
    return encode_response(
        envelope, header, ResponseCode.SUCCESS, [b"\x01" if valid else b"\x00"], digest=digest
    )


def encode_success(
    envelope: Envelope, header: Header, *, handle: bytes | None = None, digest: bytes = b""
) -> bytes:
    """A body-less success (admin operations); CREATE_HANDLE may return the minted handle."""
    body = [] if handle is None else [_blob(handle)]
    return encode_response(envelope, header, ResponseCode.SUCCESS, body, digest=digest)


def encode_referral(
    envelope: Envelope,
    header: Header,
    handle: bytes,
    values_block: bytes | None,
    *,
    rc: int = ResponseCode.SERVICE_REFERRAL,
    digest: bytes = b"",
) -> bytes:
    """SERVICE_REFERRAL / PREFIX_REFERRAL: the referral handle and optionally its values."""
    body = [_blob(handle)] + ([values_block] if values_block is not None else [])
    return encode_response(envelope, header, rc, body, digest=digest)


def request_digest(message: Message, code: int | None = None) -> bytes:
    """The RRDG field for a response to ``message``: hash code byte + digest of header+body.

    SHA-256 for clients at protocol 2.7 or later, SHA-1 before (the reference default).
    """
    if code is None:
        env = message.envelope
        code = HashCode.SHA256 if (env.major, env.minor) >= (2, 7) else HashCode.SHA1
    if code not in DIGEST_SIZES:
        raise EncodeError(f"unsupported digest code {code}")
    name = {HashCode.MD5: "md5", HashCode.SHA1: "sha1", HashCode.SHA256: "sha256"}[HashCode(code)]
    return bytes((code,)) + hashlib.new(name, message.signed).digest()


def encode_protocol_error(frame: bytes, error: ProtocolError) -> bytes | None:
    """The error answer to a request ``frame`` that failed to decode, or ``None``.

    ``None`` when there is nobody sensible to answer: the envelope or header is unusable,
    or the frame is itself a response (answering one could start a loop between servers).
    """
    if len(frame) < ENVELOPE_SIZE + HEADER_SIZE:
        return None
    try:
        envelope = decode_envelope(frame)
    except ProtocolError:
        return None
    opcode, rc, op_flags, serial, recursion, _, expiration, _ = HEADER.unpack_from(
        frame, ENVELOPE_SIZE
    )
    header = Header(opcode, rc, op_flags, serial, recursion, expiration, 0)
    if header.rc != 0:
        return None
    return encode_error_response(envelope, header, error.rc, error.message)
