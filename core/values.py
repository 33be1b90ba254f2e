"""The Handle data model: a record is a list of typed values.

A value has an ``index``, a ``type``, ``data`` (``{format, value}``), a ``ttl``, a
``timestamp`` and ``permissions`` (admin-read, admin-write, public-read, public-write as
a 4-character bit string, ``"1110"`` by default). This module owns the canonical JSON
form, which is also how values are stored, and the tolerant parsing of what Handle.net
clients send (bare-string data, string admin indices). Wire-format bytes live in
``resolver.wire``.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from typing import Any

import msgspec

from core.errors import InvalidValue

DEFAULT_TTL = 86400
DEFAULT_PERMISSIONS = "1110"
MAX_INDEX = 2**31 - 1
MAX_TYPE_BYTES = 1024
MAX_DATA_BYTES = 64 * 1024
FORMATS = frozenset({"string", "base64", "hex", "admin", "vlist", "site", "key"})
ADMIN_PERMISSION_BITS = 12
# The 12-bit HS_ADMIN permission mask written highest bit first: list handles, read value,
# add admin, remove admin, modify admin, add value, remove value, modify value, delete
# derived prefix, add derived prefix, delete handle, add handle (as Handle.net writes it).
DEFAULT_ADMIN_PERMISSIONS = "011111110011"
DEFAULT_ADMIN_INDEX = 100
SECRET_TYPES = frozenset({"HS_SECKEY"})
# The status value the wire door adds to the answer for a record with lifecycle data
# (core/lifecycle.py): never stored, so a tenant cannot register one of its own.
STATUS_TYPE = "HS_STATUS"
_BITS = re.compile(r"^[01]+$")


# gc=False: values never form reference cycles, and a resolver caches hundreds of
# thousands of them; untracked, they cost the garbage collector nothing.
class Reference(msgspec.Struct, frozen=True, gc=False):
    handle: str
    index: int


class ValueData(msgspec.Struct, frozen=True, gc=False):
    format: str
    value: Any


class HandleValue(msgspec.Struct, frozen=True, omit_defaults=True, gc=False):
    index: int
    type: str
    data: ValueData
    ttl: int = DEFAULT_TTL
    timestamp: str = ""
    permissions: str = DEFAULT_PERMISSIONS
    references: tuple[Reference, ...] = ()

    @property
    def admin_read(self) -> bool:
        return self.permissions[0] == "1"

    @property
    def admin_write(self) -> bool:
        return self.permissions[1] == "1"

    @property
    def public_read(self) -> bool:
        return self.permissions[2] == "1"

    @property
    def public_write(self) -> bool:
        return self.permissions[3] == "1"


def now_timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utf8_size(text: str, index: Any, what: str) -> int:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise _fail(index, f"{what} is not valid Unicode text (lone surrogate)") from None


def _fail(index: Any, message: str) -> InvalidValue:
    where = f"value index {index}" if index is not None else "value"
    return InvalidValue(f"{where}: {message}", field="values")


def _parse_int(raw: Any, index: Any, what: str, *, low: int, high: int) -> int:
    if type(raw) is int and low <= raw <= high:  # the common case, checked first
        return raw
    if isinstance(raw, bool):
        raise _fail(index, f"{what} must be an integer")
    # isascii: str.isdigit() also accepts digits int() refuses, such as "²".
    if (
        isinstance(raw, str)
        and raw.strip().lstrip("-").isascii()
        and raw.strip().lstrip("-").isdigit()
    ):
        raw = int(raw.strip())
    if not isinstance(raw, int):
        raise _fail(index, f"{what} must be an integer, got {type(raw).__name__}")
    if not low <= raw <= high:
        raise _fail(index, f"{what} must be between {low} and {high}, got {raw}")
    return raw


def _parse_permissions(raw: Any, index: Any) -> str:
    if raw is None:
        return DEFAULT_PERMISSIONS
    if isinstance(raw, str) and len(raw) == 4 and _BITS.match(raw):
        return raw
    if isinstance(raw, dict):
        names = ("adminRead", "adminWrite", "publicRead", "publicWrite")
        defaults = (True, True, True, False)
        flags = [raw.get(n, d) for n, d in zip(names, defaults, strict=True)]
        if all(isinstance(f, bool) for f in flags):
            return "".join("1" if f else "0" for f in flags)
    raise _fail(
        index,
        "permissions must be 4 bits (admin-read, admin-write, public-read, public-write), "
        'e.g. "1110"',
    )


def _parse_admin(raw: Any, index: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _fail(index, 'admin data must be {"handle", "index", "permissions"}')
    handle = raw.get("handle")
    if not isinstance(handle, str) or "/" not in handle:
        raise _fail(index, "admin data needs the admin's handle, e.g. 0.NA/88.100.7")
    admin_index = _parse_int(raw.get("index"), index, "admin index", low=0, high=MAX_INDEX)
    perms = raw.get("permissions", DEFAULT_ADMIN_PERMISSIONS)
    if not isinstance(perms, str) or len(perms) != ADMIN_PERMISSION_BITS or not _BITS.match(perms):
        raise _fail(index, f"admin permissions must be {ADMIN_PERMISSION_BITS} bits of 0/1")
    return {"handle": handle, "index": admin_index, "permissions": perms}


def _parse_vlist(raw: Any, index: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise _fail(index, 'vlist data must be a list of {"handle", "index"}')
    out = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("handle"), str):
            raise _fail(index, 'each vlist entry needs "handle" and "index"')
        out.append(
            {
                "handle": item["handle"],
                "index": _parse_int(item.get("index"), index, "vlist index", low=0, high=MAX_INDEX),
            }
        )
    return out


def _parse_data(raw: Any, index: Any) -> ValueData:
    if isinstance(raw, str):
        raw = {"format": "string", "value": raw}
    if not isinstance(raw, dict):
        raise _fail(index, 'data must be a string or {"format", "value"}')
    fmt = raw.get("format")
    if fmt not in FORMATS:
        raise _fail(
            index,
            f"unknown data format {fmt!r}; expected one of {', '.join(sorted(FORMATS))}",
        )
    value = raw.get("value")
    if fmt in ("string", "base64", "hex", "key"):
        if not isinstance(value, str):
            raise _fail(index, f"{fmt} data must be a string")
        size = _utf8_size(value, index, "data")
        if size > MAX_DATA_BYTES:
            raise _fail(index, f"data is {size} bytes; the limit is {MAX_DATA_BYTES}")
        if fmt in ("base64", "key"):
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise _fail(index, f"{fmt} data is not valid base64") from None
        elif fmt == "hex":
            try:
                bytes.fromhex(value)
            except ValueError:
                raise _fail(index, "hex data is not valid hexadecimal") from None
        return ValueData(fmt, value)
    if fmt == "admin":
        return ValueData(fmt, _parse_admin(value, index))
    if fmt == "vlist":
        return ValueData(fmt, _parse_vlist(value, index))
    # site: the Handle.net JSON description of a service site; stored as given.
    if not isinstance(value, dict):
        raise _fail(index, "site data must be an object")
    return ValueData(fmt, value)


_PLAIN_KEYS = frozenset({"index", "type", "data"})


def parse_value(raw: Any, *, timestamp: str) -> HandleValue:
    """Parse one value as a client sent it. Raises InvalidValue naming the field."""
    if type(raw) is dict and raw.keys() == _PLAIN_KEYS:
        # The shape of nearly every value in a bulk load: {index, type, data: "text"}.
        # Checked here by the same rules, a bulk load spends half as long on its values.
        index, vtype, data = raw["index"], raw["type"], raw["data"]
        if (
            type(index) is int
            and 1 <= index <= MAX_INDEX
            and type(vtype) is str
            and type(data) is str
            and vtype
            and vtype not in SECRET_TYPES
            and vtype != STATUS_TYPE
            and _utf8_size(vtype, index, "type") <= MAX_TYPE_BYTES
            and _utf8_size(data, index, "data") <= MAX_DATA_BYTES
        ):
            return HandleValue(
                index=index, type=vtype, data=ValueData("string", data), timestamp=timestamp
            )
    if not isinstance(raw, dict):
        raise _fail(None, "each value must be an object")
    index = raw.get("index")
    index = _parse_int(index, index, "index", low=1, high=MAX_INDEX)
    vtype = raw.get("type")
    if not isinstance(vtype, str) or not vtype:
        raise _fail(index, "type must be a non-empty string")
    if _utf8_size(vtype, index, "type") > MAX_TYPE_BYTES:
        raise _fail(index, f"type is longer than {MAX_TYPE_BYTES} bytes")
    if vtype == STATUS_TYPE:
        raise _fail(index, f"{STATUS_TYPE} is the node's status value; set the status instead")
    if "data" not in raw:
        raise _fail(index, "data is missing")
    data = _parse_data(raw["data"], index)
    ttl = _parse_int(raw.get("ttl", DEFAULT_TTL), index, "ttl", low=0, high=MAX_INDEX)
    permissions = _parse_permissions(raw.get("permissions"), index)
    if vtype in SECRET_TYPES:
        # A secret key is never public, whatever the client asked for.
        permissions = permissions[:2] + "00"
    refs_raw = raw.get("references")
    refs: tuple[Reference, ...] = ()
    if refs_raw:
        if not isinstance(refs_raw, list):
            raise _fail(index, "references must be a list")
        refs = tuple(Reference(**r) for r in _parse_vlist(refs_raw, index))
    return HandleValue(
        index=index,
        type=vtype,
        data=data,
        ttl=ttl,
        timestamp=timestamp,
        permissions=permissions,
        references=refs,
    )


def parse_values(raw: Any, *, timestamp: str | None = None) -> list[HandleValue]:
    """Accept ``{"values": [...]}``, a bare list, or one value; refuse duplicate indices."""
    ts = timestamp or now_timestamp()
    if isinstance(raw, dict) and "values" in raw:
        raw = raw["values"]
    elif isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise InvalidValue(
            'the body must be {"values": [...]}, a list or one value', field="values"
        )
    values = [parse_value(item, timestamp=ts) for item in raw]
    seen: set[int] = set()
    for v in values:
        if v.index in seen:
            raise InvalidValue(f"index {v.index} appears twice in the body", field="values")
        seen.add(v.index)
    return values


def default_admin_value(
    tenant_prefix: str, timestamp: str, *, taken: set[int] | frozenset[int] = frozenset()
) -> HandleValue:
    """The HS_ADMIN a new record gets when the client sent none: the tenant's prefix
    handle administers it. Index 100 by convention, or the next free one."""
    index = DEFAULT_ADMIN_INDEX
    while index in taken:
        index += 1
    return HandleValue(
        index=index,
        type="HS_ADMIN",
        data=ValueData(
            "admin",
            {
                "handle": f"0.NA/{tenant_prefix}",
                "index": 200,
                "permissions": DEFAULT_ADMIN_PERMISSIONS,
            },
        ),
        ttl=DEFAULT_TTL,
        timestamp=timestamp,
        permissions="1110",
    )


def value_to_json(v: HandleValue) -> dict[str, Any]:
    """The Handle.net JSON shape: permissions only when not default; always a timestamp."""
    out: dict[str, Any] = {
        "index": v.index,
        "type": v.type,
        "data": {"format": v.data.format, "value": v.data.value},
        "ttl": v.ttl,
        "timestamp": v.timestamp,
    }
    if v.permissions != DEFAULT_PERMISSIONS:
        out["permissions"] = v.permissions
    if v.references:
        out["references"] = [{"handle": r.handle, "index": r.index} for r in v.references]
    return out


_stored_encoder = msgspec.json.Encoder()
_stored_decoder = msgspec.json.Decoder(list[HandleValue])


def dump_values(values: list[HandleValue]) -> str:
    return _stored_encoder.encode(values).decode()


def load_values(text: str | bytes) -> list[HandleValue]:
    return _stored_decoder.decode(text)


def type_matches(vtype: str, wanted: str) -> bool:
    """Handle type filter: ``URL`` matches ``url``; ``10320.`` matches ``10320.loc``."""
    a, b = vtype.lower(), wanted.lower()
    if b.endswith("."):
        return a.startswith(b) or a == b[:-1]
    return a == b


def filter_values(
    values: list[HandleValue],
    *,
    indices: frozenset[int] | None = None,
    types: tuple[str, ...] | None = None,
    public_only: bool = True,
) -> list[HandleValue]:
    out = []
    for v in values:
        if public_only and not v.public_read:
            continue
        if indices or types:
            hit = bool(indices and v.index in indices) or bool(
                types and any(type_matches(v.type, t) for t in types)
            )
            if not hit:
                continue
        out.append(v)
    return out
