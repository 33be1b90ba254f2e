"""Handle values between ``core.values.HandleValue`` and their RFC 3652 wire form.

A value on the wire is: index (4, signed), timestamp (4, seconds since the epoch),
ttl type (1; 0 relative), ttl (4, signed), permissions (1; admin-read 0x8, admin-write
0x4, public-read 0x2, public-write 0x1), type (length-prefixed UTF-8), data
(length-prefixed bytes), references (count, then length-prefixed handle + 4-byte index).

What this module promises:

* ``encode_value`` / ``encode_values`` give the exact bytes a RESOLUTION response
  carries, so the resolver can cache them per record and splice them into answers
  (``encode_values`` includes the 4-byte value count; ``join_encoded`` builds the same
  list from per-value bytes for type/index-filtered answers).
* Data formats map to bytes as: ``string`` → UTF-8; ``base64``/``key`` → decoded bytes;
  ``hex`` → ``bytes.fromhex``; ``admin`` → HS_ADMIN (2-byte permission mask, admin
  handle, 4-byte index); ``vlist`` → HS_VLIST (count, then handle + index); ``site`` →
  HS_SITE (``resolver.wire.site``).
* Decoding picks the format from the type: HS_ADMIN → admin, HS_VLIST → vlist,
  HS_SITE/HS_SITE.6/HS_SITE.PREFIX → site, HS_PUBKEY → key (base64); anything else is
  ``string`` when the bytes are UTF-8, else ``base64``. A structured type whose bytes do
  not parse falls back to string/base64 rather than failing the whole message. So
  ``hex`` data comes back as string/base64 with the same bytes (the wire has no format).
* The admin permission string is the 12-bit mask written most significant bit first,
  as Handle.net's JSON does (``"011111110011"`` = 0x7F3: everything but list-handles,
  add/delete derived prefix).
* Decoding raises only ``ProtocolError``; encoding raises ``EncodeError`` (a
  ``ValueError``) for data that cannot be represented.
"""

from __future__ import annotations

import base64
import binascii
import struct
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final

from core.values import HandleValue, Reference, ValueData
from resolver.wire.reader import I32, U16, U32, EncodeError, ProtocolError, Reader
from resolver.wire.site import decode_site, encode_site

PERM_ADMIN_READ: Final = 0x8
PERM_ADMIN_WRITE: Final = 0x4
PERM_PUBLIC_READ: Final = 0x2
PERM_PUBLIC_WRITE: Final = 0x1
TTL_RELATIVE: Final = 0
TTL_ABSOLUTE: Final = 1
RC_INVALID_VALUE: Final = 202
MAX_TYPE_BYTES: Final = 1024
MAX_HANDLE_BYTES: Final = 2048
MAX_VALUES: Final = 2048
"""Values in one message, as the reference implementation caps them."""
VALUE_MIN_SIZE: Final = 26
"""Fixed part (14) + empty type (4) + empty data (4) + zero references (4)."""

_HEAD: Final = struct.Struct(">iIBiB")  # index, timestamp, ttl type, ttl, perms
_PERM_BITS: Final = {format(i, "04b"): i for i in range(16)}
_PERM_TEXT: Final = tuple(format(i, "04b") for i in range(16))
_ZERO: Final = U32.pack(0)


@lru_cache(maxsize=4096)
def timestamp_seconds(text: str) -> int:
    """``2026-01-02T03:04:05Z`` → seconds since the epoch, clamped to an unsigned 32-bit.

    An empty or unparsable timestamp encodes as 0 rather than failing the whole record.
    """
    if not text:
        return 0
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return 0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return min(max(int(moment.timestamp()), 0), 0xFFFFFFFF)


@lru_cache(maxsize=4096)
def timestamp_text(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _text_bytes(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise EncodeError(f"{what} must be a string")
    return value.encode("utf-8", "surrogatepass")


def _index(value: Any, what: str) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**31) <= value < 2**31:
        raise EncodeError(f"{what} must be a 32-bit integer")
    return value


def _ref(handle: Any, index: Any, what: str) -> bytes:
    raw = _text_bytes(handle, f"{what} handle")
    return U32.pack(len(raw)) + raw + I32.pack(_index(index, f"{what} index"))


def encode_admin(value: Mapping[str, Any]) -> bytes:
    """HS_ADMIN data: permission mask (2), admin handle (length-prefixed), admin index (4)."""
    if not isinstance(value, Mapping):
        raise EncodeError('admin data must be {"handle", "index", "permissions"}')
    perms = value.get("permissions", "")
    if not isinstance(perms, str) or not 0 < len(perms) <= 16 or set(perms) - {"0", "1"}:
        raise EncodeError("admin permissions must be a string of 0/1 bits")
    return U16.pack(int(perms, 2)) + _ref(value.get("handle"), value.get("index"), "admin")


def decode_admin(data: bytes) -> dict[str, Any]:
    r = Reader(data)
    mask = r.u16("admin permissions")
    handle = r.text("admin handle", MAX_HANDLE_BYTES)
    index = r.i32("admin index")
    if r.remaining != 2:  # the reference server tolerates a legacy 2-byte tail
        r.finish("admin record")
    return {"handle": handle, "index": index, "permissions": format(mask & 0xFFF, "012b")}


def encode_vlist(value: Sequence[Mapping[str, Any]]) -> bytes:
    """HS_VLIST data: count, then (length-prefixed handle, 4-byte index) pairs."""
    if not isinstance(value, list):
        raise EncodeError('vlist data must be a list of {"handle", "index"}')
    parts = [U32.pack(len(value))]
    for n, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise EncodeError(f"vlist entry {n} must be an object")
        parts.append(_ref(item.get("handle"), item.get("index"), f"vlist entry {n}"))
    return b"".join(parts)


def _decode_refs(r: Reader, what: str) -> list[dict[str, Any]]:
    n = r.count(what, 8)
    return [
        {"handle": r.text(f"{what} handle", MAX_HANDLE_BYTES), "index": r.i32(f"{what} index")}
        for _ in range(n)
    ]


def decode_vlist(data: bytes) -> list[dict[str, Any]]:
    r = Reader(data)
    refs = _decode_refs(r, "vlist entry")
    r.finish("vlist")
    return refs


def _decoded(fmt: str, parse: Callable[[bytes], Any]) -> Callable[[bytes], ValueData]:
    return lambda data: ValueData(fmt, parse(data))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


_STRUCTURED: Final[dict[str, Callable[[bytes], ValueData]]] = {
    "HS_ADMIN": _decoded("admin", decode_admin),
    "HS_VLIST": _decoded("vlist", decode_vlist),
    "HS_SITE": _decoded("site", decode_site),
    "HS_SITE.6": _decoded("site", decode_site),
    "HS_SITE.PREFIX": _decoded("site", decode_site),
    "HS_PUBKEY": _decoded("key", _b64),
}


def data_bytes(data: ValueData) -> bytes:
    """The bytes a value's data field carries on the wire."""
    fmt, value = data.format, data.value
    if fmt == "string":
        return _text_bytes(value, "string data")
    try:
        if fmt in ("base64", "key"):
            return base64.b64decode(_text_bytes(value, f"{fmt} data"), validate=True)
        if fmt == "hex":
            return bytes.fromhex(_text_bytes(value, "hex data").decode("ascii"))
    except (binascii.Error, ValueError):
        raise EncodeError(f"{fmt} data is not valid {fmt}") from None
    if fmt == "admin":
        return encode_admin(value)
    if fmt == "vlist":
        return encode_vlist(value)
    if fmt == "site":
        return encode_site(value)
    raise EncodeError(f"unknown data format {fmt!r}")


def data_from_wire(vtype: str, raw: bytes) -> ValueData:
    """Our ValueData for wire bytes of the given type (see the module docstring)."""
    structured = _STRUCTURED.get(vtype)
    if structured is not None:
        try:
            return structured(raw)
        except ProtocolError:
            pass
    try:
        return ValueData("string", raw.decode("utf-8"))
    except UnicodeDecodeError:
        return ValueData("base64", _b64(raw))


def encode_value(v: HandleValue) -> bytes:
    """One value in wire form (RFC 3652 value record)."""
    perms = _PERM_BITS.get(v.permissions)
    if perms is None:
        raise EncodeError(f"value {v.index}: permissions must be 4 bits, e.g. 1110")
    vtype = _text_bytes(v.type, "type")
    data = data_bytes(v.data)
    try:
        head = _HEAD.pack(v.index, timestamp_seconds(v.timestamp), TTL_RELATIVE, v.ttl, perms)
    except Exception as exc:  # struct.error: index or ttl outside 32 bits
        raise EncodeError(f"value {v.index}: index and ttl must fit 32 bits") from exc
    parts = [head, U32.pack(len(vtype)), vtype, U32.pack(len(data)), data]
    if v.references:
        parts.append(U32.pack(len(v.references)))
        parts += [_ref(ref.handle, ref.index, "reference") for ref in v.references]
    else:
        parts.append(_ZERO)
    return b"".join(parts)


def join_encoded(encoded: Sequence[bytes]) -> bytes:
    """A value list (count + values) from values already passed through encode_value."""
    return U32.pack(len(encoded)) + b"".join(encoded)


def encode_values(values: Iterable[HandleValue]) -> bytes:
    """The value list of a RESOLUTION response body: 4-byte count, then each value."""
    return join_encoded([encode_value(v) for v in values])


def decode_value(r: Reader) -> HandleValue:
    """Read one value at the reader's position."""
    buf, pos = r.buf, r.pos
    if r.end - pos < 14:
        raise ProtocolError(f"truncated value: {r.end - pos} bytes left")
    index, stamp, _ttl_type, ttl, perms = _HEAD.unpack_from(buf, pos)
    r.pos = pos + 14
    vtype = r.text("value type", MAX_TYPE_BYTES, rc=RC_INVALID_VALUE)
    raw = r.blob("value data")
    n_refs = r.count("reference", 8)
    refs = tuple(
        Reference(
            r.text("reference handle", MAX_HANDLE_BYTES, rc=RC_INVALID_VALUE), r.i32("reference")
        )
        for _ in range(n_refs)
    )
    return HandleValue(
        index=index,
        type=vtype,
        data=data_from_wire(vtype, raw),
        ttl=ttl,
        timestamp=timestamp_text(stamp),
        permissions=_PERM_TEXT[perms & 0xF],
        references=refs,
    )


def decode_values(r: Reader) -> list[HandleValue]:
    """Read a value list (count, then values) at the reader's position."""
    n = r.count("value", VALUE_MIN_SIZE, MAX_VALUES)
    return [decode_value(r) for _ in range(n)]


def decode_value_bytes(data: bytes) -> HandleValue:
    """Decode exactly one encoded value (as cached by the resolver)."""
    r = Reader(data)
    value = decode_value(r)
    r.finish("value")
    return value
