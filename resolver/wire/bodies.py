"""Message bodies of the Handle protocol: typed views for decoding, builders for encoding.

``decode_body`` turns a :class:`~resolver.wire.codec.Message` into one of the small
frozen dataclasses below, chosen by opcode for requests and by response code (then
opcode) for responses, and raises only ``ProtocolError`` (``rc`` 5 for operations we do
not implement). A response with the RRDG flag starts with the request digest; it is
returned beside the body. Handles and types stay ``bytes`` in requests: the server
decides what an invalid handle means (rc 102), not the codec.

Layouts (RFC 3652 §3, as the reference implementation writes them): RESOLUTION request
= handle, index list, type list; response = handle, value list. CREATE/ADD/MODIFY =
handle, value list. REMOVE_VALUE = handle, index list. DELETE_HANDLE, LIST_HANDLES,
GET_SITE_INFO = handle. RESPONSE_TO_CHALLENGE = auth type ("HS_SECKEY"/"HS_PUBKEY"),
key handle, key index, signed answer. VERIFY_CHALLENGE = handle, index, nonce, digest,
signed answer; its response is one byte (1 valid). Challenge (rc 402) = nonce. Error =
UTF-8 message, optionally an index list. IDIS LOGIN (2001) = handle, index.

Lists in requests (values, indices, types) are capped at 2048 entries, the reference
implementation's limit on values per message, so one 256 KiB request cannot cost more
than a few milliseconds to decode.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

from core.values import HandleValue
from resolver.wire.constants import (
    DIGEST_SIZES,
    ENVELOPE_SIZE,
    HEADER_SIZE,
    MAX_MESSAGE_LENGTH,
    RRDG,
    OpCode,
    ResponseCode,
)
from resolver.wire.message import Envelope, Header, Message, decode_message
from resolver.wire.reader import U32, ProtocolError, Reader
from resolver.wire.site import decode_site
from resolver.wire.values import (
    MAX_HANDLE_BYTES,
    MAX_TYPE_BYTES,
    MAX_VALUES,
    decode_values,
    encode_values,
)

MAX_NONCE_BYTES: Final = 1024


class RequestDigest(NamedTuple):
    code: int
    digest: bytes


@dataclass(frozen=True, slots=True)
class ResolutionRequest:
    handle: bytes
    indices: tuple[int, ...] = ()
    types: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class HandleRequest:
    """GET_SITE_INFO, DELETE_HANDLE, LIST_HANDLES, HOME_NA, … : just a handle (may be empty)."""

    handle: bytes


@dataclass(frozen=True, slots=True)
class ValuesRequest:
    """CREATE_HANDLE, ADD_VALUE, MODIFY_VALUE."""

    handle: bytes
    values: tuple[HandleValue, ...]


@dataclass(frozen=True, slots=True)
class RemoveValueRequest:
    handle: bytes
    indices: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ChallengeAnswer:
    """RESPONSE_TO_CHALLENGE: who answers (``index:handle``) and the signed nonce+digest."""

    auth_type: bytes
    handle: bytes
    index: int
    signature: bytes


@dataclass(frozen=True, slots=True)
class VerifyChallengeRequest:
    handle: bytes
    index: int
    nonce: bytes
    digest: RequestDigest
    signature: bytes


@dataclass(frozen=True, slots=True)
class LoginRequest:
    """IDIS opcode 2001."""

    handle: bytes
    index: int


@dataclass(frozen=True, slots=True)
class ResolutionResponse:
    handle: bytes
    values: tuple[HandleValue, ...]


@dataclass(frozen=True, slots=True)
class Referral:
    """SERVICE_REFERRAL / PREFIX_REFERRAL: where to ask instead."""

    handle: bytes
    values: tuple[HandleValue, ...]


@dataclass(frozen=True, slots=True)
class SiteInfoResponse:
    site: dict[str, object]


@dataclass(frozen=True, slots=True)
class ListHandlesResponse:
    handles: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class VerifyChallengeResponse:
    valid: bool


@dataclass(frozen=True, slots=True)
class Challenge:
    nonce: bytes


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    message: str
    indices: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Success:
    """A success without a body; CREATE_HANDLE may name the (minted) handle."""

    handle: bytes | None = None


Body = (
    ResolutionRequest | HandleRequest | ValuesRequest | RemoveValueRequest | ChallengeAnswer
    | VerifyChallengeRequest | LoginRequest | ResolutionResponse | Referral | SiteInfoResponse
    | ListHandlesResponse | VerifyChallengeResponse | Challenge | ErrorResponse | Success
)  # fmt: skip

_HANDLE_ONLY: Final = frozenset(
    {
        OpCode.GET_SITE_INFO, OpCode.DELETE_HANDLE, OpCode.LIST_HANDLES, OpCode.LIST_HOMED_NAS,
        OpCode.HOME_NA, OpCode.UNHOME_NA, OpCode.SESSION_TERMINATE,
    }
)  # fmt: skip
_WITH_VALUES: Final = frozenset({OpCode.CREATE_HANDLE, OpCode.ADD_VALUE, OpCode.MODIFY_VALUE})


def _handle(r: Reader) -> bytes:
    return r.blob("handle", MAX_HANDLE_BYTES)


def _digest(r: Reader, what: str) -> RequestDigest:
    code = r.u8(f"{what} code")
    if code == 0:  # old format: the byte was the top of a 4-byte length
        r.pos -= 1
        return RequestDigest(0, r.blob(what, 64))
    size = DIGEST_SIZES.get(code)
    if size is None:
        raise ProtocolError(f"unknown {what} hash code {code}")
    return RequestDigest(code, r.take(size, what))


def _decode_request(opcode: int, r: Reader) -> Body:
    if opcode == OpCode.RESOLUTION:
        handle = _handle(r)
        indices = r.int_list("index", MAX_VALUES)
        return ResolutionRequest(handle, indices, r.blob_list("type", MAX_TYPE_BYTES, MAX_VALUES))
    if opcode in _HANDLE_ONLY:
        return HandleRequest(_handle(r) if r.remaining else b"")
    if opcode in _WITH_VALUES:
        handle = _handle(r)
        return ValuesRequest(handle, tuple(decode_values(r)))
    if opcode == OpCode.REMOVE_VALUE:
        handle = _handle(r)
        return RemoveValueRequest(handle, r.int_list("index", MAX_VALUES))
    if opcode == OpCode.RESPONSE_TO_CHALLENGE:
        auth_type = r.blob("auth type", 64)
        handle = _handle(r)
        index = r.i32("key index")
        return ChallengeAnswer(auth_type, handle, index, r.blob("challenge answer"))
    if opcode == OpCode.VERIFY_CHALLENGE:
        handle = _handle(r)
        index = r.i32("key index")
        nonce = r.blob("nonce", MAX_NONCE_BYTES)
        digest = _digest(r, "request digest")
        return VerifyChallengeRequest(handle, index, nonce, digest, r.blob("challenge answer"))
    if opcode == OpCode.LOGIN_IDIS:
        handle = _handle(r)
        return LoginRequest(handle, r.i32("key index"))
    raise ProtocolError(
        f"opcode {opcode} is not supported", rc=ResponseCode.OPERATION_NOT_SUPPORTED
    )


def _decode_error(r: Reader) -> ErrorResponse:
    if not r.remaining:
        return ErrorResponse("")
    message = r.blob("error message").decode("utf-8", "replace")
    indices = r.int_list("index") if r.remaining else ()
    return ErrorResponse(message, indices)


def _decode_success(opcode: int, r: Reader) -> Body:
    if opcode == OpCode.RESOLUTION:
        handle = _handle(r)
        return ResolutionResponse(handle, tuple(decode_values(r)))
    if opcode == OpCode.GET_SITE_INFO:
        site = decode_site(r.take(r.remaining, "site record"))
        return SiteInfoResponse(site)
    if opcode in (OpCode.LIST_HANDLES, OpCode.LIST_HOMED_NAS):
        return ListHandlesResponse(r.blob_list("handle", MAX_HANDLE_BYTES))
    if opcode == OpCode.VERIFY_CHALLENGE:
        return VerifyChallengeResponse(bool(r.u8("verification result") & 1))
    if opcode == OpCode.CREATE_HANDLE and r.remaining:
        return Success(_handle(r))
    return Success()


def _decode_response(rc: int, opcode: int, r: Reader) -> Body:
    if rc == ResponseCode.SUCCESS:
        return _decode_success(opcode, r)
    if rc == ResponseCode.AUTHENTICATION_NEEDED:
        return Challenge(r.blob("nonce", MAX_NONCE_BYTES))
    if rc in (ResponseCode.SERVICE_REFERRAL, ResponseCode.PREFIX_REFERRAL):
        handle = _handle(r)
        return Referral(handle, tuple(decode_values(r)) if r.remaining else ())
    return _decode_error(r)


def decode_body(message: Message) -> tuple[Body, RequestDigest | None]:
    """The typed body of ``message`` and, for RRDG responses, the request digest."""
    r = message.reader()
    header = message.header
    digest = None
    if header.rc == 0:
        body = _decode_request(header.opcode, r)
    else:
        if header.op_flags & RRDG:
            digest = _digest(r, "request digest")
        body = _decode_response(header.rc, header.opcode, r)
    r.finish("message body")
    return body, digest


_FRAME: Final = struct.Struct(">BBBBIIIIIIIHBBIII")  # envelope, header, handle length
_PLAIN_TAIL: Final = bytes(12)  # empty index list, empty type list, no credential


def decode_request(frame: bytes) -> tuple[Message, Body]:
    """A request frame decoded; what the server calls for every datagram.

    Equivalent to ``decode_body(decode_message(frame))`` for requests, with a fast path
    for the common case: a RESOLUTION without index or type filters and no credential.
    A *response* in ``frame`` is a ProtocolError (a server never accepts one).
    """
    size = len(frame)
    if size >= 60:
        (
            major, minor, eflags, s_minor, session, request_id, seq, length,
            opcode, rc, op_flags, serial, recursion, _, expiration, body_length, handle_length,
        ) = _FRAME.unpack_from(frame)  # fmt: skip
        end = 48 + handle_length
        if (
            opcode == 1
            and rc == 0
            and not eflags & 0xE0
            and length == size - ENVELOPE_SIZE <= MAX_MESSAGE_LENGTH
            and body_length == length - HEADER_SIZE - 4
            and handle_length <= MAX_HANDLE_BYTES
            and end + 12 == size
            and frame[end:] == _PLAIN_TAIL
        ):
            envelope = Envelope(
                major, minor, 0, eflags & 3, s_minor, session, request_id, seq, length
            )
            header = Header(opcode, 0, op_flags, serial, recursion, expiration, body_length)
            message = Message(envelope, header, frame, ENVELOPE_SIZE)
            return message, ResolutionRequest(frame[48:end])
    message = decode_message(frame)
    if message.header.rc != 0:
        raise ProtocolError("a response was sent to the server")
    body, _ = decode_body(message)
    return message, body


# --- builders -------------------------------------------------------------------------


def _blob(raw: bytes) -> bytes:
    return U32.pack(len(raw)) + raw


def _ints(values: Sequence[int]) -> bytes:
    return U32.pack(len(values)) + struct.pack(f">{len(values)}i", *values)


def _text(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def resolution_request_body(
    handle: str | bytes, indices: Sequence[int] = (), types: Iterable[str | bytes] = ()
) -> bytes:
    type_list = [_text(t) for t in types]
    return b"".join(
        (_blob(_text(handle)), _ints(indices), U32.pack(len(type_list)), *map(_blob, type_list))
    )


def handle_body(handle: str | bytes) -> bytes:
    """GET_SITE_INFO, DELETE_HANDLE, LIST_HANDLES (prefix handle, e.g. ``0.NA/88.100.7``)."""
    return _blob(_text(handle))


def values_body(handle: str | bytes, values: Iterable[HandleValue]) -> bytes:
    """CREATE_HANDLE, ADD_VALUE, MODIFY_VALUE."""
    return _blob(_text(handle)) + encode_values(values)


def remove_value_body(handle: str | bytes, indices: Sequence[int]) -> bytes:
    return _blob(_text(handle)) + _ints(indices)


def challenge_answer_body(
    auth_type: str | bytes, handle: str | bytes, index: int, signature: bytes
) -> bytes:
    """RESPONSE_TO_CHALLENGE: auth type (HS_SECKEY or HS_PUBKEY), key handle, index, answer."""
    return b"".join(
        (_blob(_text(auth_type)), _blob(_text(handle)), struct.pack(">i", index), _blob(signature))
    )


def verify_challenge_body(
    handle: str | bytes, index: int, nonce: bytes, digest: RequestDigest, signature: bytes
) -> bytes:
    head = _blob(_text(handle)) + struct.pack(">i", index) + _blob(nonce)
    if digest.code == 0:
        digest_field = _blob(digest.digest)
    else:
        digest_field = bytes((digest.code,)) + digest.digest
    return head + digest_field + _blob(signature)


def login_body(handle: str | bytes, index: int) -> bytes:
    """IDIS LOGIN (2001): handle and key index."""
    return _blob(_text(handle)) + struct.pack(">i", index)
