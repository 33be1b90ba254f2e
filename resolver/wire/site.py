"""HS_SITE records (RFC 3651 §3.2.2) between their binary form and our JSON form.

A prefix handle (``0.NA/88.100.7``) carries HS_SITE values that tell clients which
servers answer for the prefix; GET_SITE_INFO answers with the same record. We store the
record as the Handle.net-style JSON object below and promise that
``decode_site(encode_site(x))`` gives back ``x`` in normal form::

    {"version": 1, "protocolVersion": "2.10", "serialNumber": 1, "primaryMask": 128,
     "hashOption": 0, "hashFilter": "", "attributes": [{"name": "desc", "value": "..."}],
     "servers": [{"serverId": 1, "address": "192.0.2.1",
                  "publicKey": {"format": "key", "value": "<base64>"},
                  "interfaces": [{"query": true, "admin": false, "protocol": "UDP",
                                  "port": 2641}]}]}

Binary layout: version (2), protocol major (1), minor (1), serial (2), primary mask (1),
hash option (1), hash filter (length-prefixed), attributes (count, then name/value
pairs, each length-prefixed), servers (count, then server id (4), address (16 bytes;
IPv4 as 12 zero bytes and the 4 address bytes, as hdllib writes and reads it: the 2006
library takes any non-zero leading byte for IPv6), public key (length-prefixed,
hdllib's key form), interfaces (count, then type (1: admin 0x1 | query 0x2), protocol
(1: UDP 0, TCP 1, HTTP 2, HTTPS 3), port (4))). The ``::ffff:`` mapped form is still
read as IPv4.

On input, Handle.net's ``primarySite``/``multiPrimary`` booleans are accepted in place of
``primaryMask`` (0x80 primary, 0x40 multi-primary); decoding always gives ``primaryMask``.
Encoding raises :class:`EncodeError` (a ``ValueError``) naming the bad field;
decoding raises only ``ProtocolError``.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Mapping
from typing import Any, Final

from resolver.wire.reader import I32, U16, U32, EncodeError, ProtocolError, Reader

PRIMARY_SITE: Final = 0x80
MULTI_PRIMARY: Final = 0x40
SITE_FORMAT_VERSION: Final = 1

INTERFACE_ADMIN: Final = 0x1
INTERFACE_QUERY: Final = 0x2
PROTOCOLS: Final = ("UDP", "TCP", "HTTP", "HTTPS")
_PROTOCOL_CODES: Final = {name: code for code, name in enumerate(PROTOCOLS)}

_V4_MAPPED: Final = b"\x00" * 10 + b"\xff\xff"
_V4_COMPAT: Final = b"\x00" * 12
_SERVER_MIN: Final = 4 + 16 + 4 + 4  # id, address, empty key, interface count
_INTERFACE_SIZE: Final = 6


def _int(obj: Mapping[str, Any], key: str, default: int, low: int, high: int, where: str) -> int:
    value = obj.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise EncodeError(f"{where}{key} must be an integer from {low} to {high}")
    return value


def _str(obj: Mapping[str, Any], key: str, where: str, default: str | None = None) -> bytes:
    value = obj.get(key, default)
    if not isinstance(value, str):
        raise EncodeError(f"{where}{key} must be a string")
    return value.encode("utf-8", "surrogatepass")


def _blob(raw: bytes) -> bytes:
    return U32.pack(len(raw)) + raw


def _address(text: Any, where: str) -> bytes:
    if not isinstance(text, str):
        raise EncodeError(f"{where}address must be an IP address string")
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise EncodeError(f"{where}address {text!r} is not an IP address") from None
    if addr.version == 4:
        return _V4_COMPAT + addr.packed
    return addr.packed


def _key_bytes(key: Any, where: str) -> bytes:
    if key is None:
        return b""
    if not isinstance(key, Mapping) or not isinstance(key.get("value"), str):
        raise EncodeError(f'{where}publicKey must be {{"format", "value"}}')
    fmt, value = key.get("format"), key["value"]
    try:
        if fmt in ("base64", "key"):
            return base64.b64decode(value, validate=True)
        if fmt == "hex":
            return bytes.fromhex(value)
    except (binascii.Error, ValueError):
        raise EncodeError(f"{where}publicKey is not valid {fmt}") from None
    raise EncodeError(f"{where}publicKey format must be base64, hex or key")


def _interface(obj: Any, where: str) -> bytes:
    if not isinstance(obj, Mapping):
        raise EncodeError(f"{where} must be an object")
    kind = (INTERFACE_ADMIN if obj.get("admin") else 0) | (
        INTERFACE_QUERY if obj.get("query") else 0
    )
    protocol = str(obj.get("protocol", "")).upper()
    if protocol not in _PROTOCOL_CODES:
        raise EncodeError(f"{where}.protocol must be one of {', '.join(PROTOCOLS)}")
    port = _int(obj, "port", 2641, 0, 65535, f"{where}.")
    return bytes((kind, _PROTOCOL_CODES[protocol])) + I32.pack(port)


def _server(obj: Any, where: str) -> bytes:
    if not isinstance(obj, Mapping):
        raise EncodeError(f"{where} must be an object")
    interfaces = obj.get("interfaces", [])
    if not isinstance(interfaces, list):
        raise EncodeError(f"{where}.interfaces must be a list")
    parts = [
        I32.pack(_int(obj, "serverId", 1, 0, 2**31 - 1, f"{where}.")),
        _address(obj.get("address"), f"{where}."),
        _blob(_key_bytes(obj.get("publicKey"), f"{where}.")),
        U32.pack(len(interfaces)),
    ]
    parts += [_interface(i, f"{where}.interfaces[{n}]") for n, i in enumerate(interfaces)]
    return b"".join(parts)


def _primary_mask(site: Mapping[str, Any]) -> int:
    """``primaryMask``, or Handle.net's ``primarySite``/``multiPrimary`` booleans."""
    if "primaryMask" not in site and ("primarySite" in site or "multiPrimary" in site):
        return (PRIMARY_SITE if site.get("primarySite") else 0) | (
            MULTI_PRIMARY if site.get("multiPrimary") else 0
        )
    return _int(site, "primaryMask", 0, 0, 0xFF, "")


def encode_site(site: Mapping[str, Any]) -> bytes:
    """The RFC 3651 binary HS_SITE record for our JSON description of a site."""
    if not isinstance(site, Mapping):
        raise EncodeError("site data must be an object")
    version = str(site.get("protocolVersion", "2.10"))
    major, dot, minor = version.partition(".")
    if not (dot and major.isdigit() and minor.isdigit() and int(major) < 256 and int(minor) < 256):
        raise EncodeError(f'protocolVersion must look like "2.10", got {version!r}')
    attributes = site.get("attributes", [])
    servers = site.get("servers", [])
    if not isinstance(attributes, list) or not isinstance(servers, list):
        raise EncodeError("attributes and servers must be lists")
    parts = [
        U16.pack(_int(site, "version", SITE_FORMAT_VERSION, 0, 0xFFFF, "")),
        bytes((int(major), int(minor))),
        U16.pack(_int(site, "serialNumber", 1, 0, 0xFFFF, "")),
        bytes((_primary_mask(site), _int(site, "hashOption", 0, 0, 0xFF, ""))),
        _blob(_str(site, "hashFilter", "", "")),
        U32.pack(len(attributes)),
    ]
    for n, attr in enumerate(attributes):
        if not isinstance(attr, Mapping):
            raise EncodeError(f"attributes[{n}] must be {{name, value}}")
        parts += [
            _blob(_str(attr, "name", f"attributes[{n}].")),
            _blob(_str(attr, "value", f"attributes[{n}].")),
        ]
    parts.append(U32.pack(len(servers)))
    parts += [_server(s, f"servers[{n}]") for n, s in enumerate(servers)]
    return b"".join(parts)


def _address_text(raw: bytes) -> str:
    # IPv4-compatible (12 zero bytes) is how older servers write IPv4, but ::1 and ::
    # look the same; 0.0.0.0/8 is no host address, so those stay IPv6.
    if raw[:12] == _V4_MAPPED or (raw[:12] == _V4_COMPAT and raw[12] != 0):
        return str(ipaddress.IPv4Address(raw[12:]))
    return str(ipaddress.IPv6Address(raw))


def _decode_interface(r: Reader) -> dict[str, Any]:
    kind = r.u8("interface type")
    protocol = r.u8("interface protocol")
    port = r.i32("interface port")
    if protocol >= len(PROTOCOLS):
        raise ProtocolError(f"unknown interface protocol {protocol}")
    return {
        "query": bool(kind & INTERFACE_QUERY),
        "admin": bool(kind & INTERFACE_ADMIN),
        "protocol": PROTOCOLS[protocol],
        "port": port,
    }


def _decode_server(r: Reader) -> dict[str, Any]:
    server_id = r.i32("server id")
    address = _address_text(r.take(16, "server address"))
    key = r.blob("server public key")
    n = r.count("interface", _INTERFACE_SIZE)
    return {
        "serverId": server_id,
        "address": address,
        "publicKey": {"format": "key", "value": base64.b64encode(key).decode("ascii")},
        "interfaces": [_decode_interface(r) for _ in range(n)],
    }


def decode_site(data: bytes) -> dict[str, Any]:
    """Our JSON description of a binary HS_SITE record; raises only ProtocolError."""
    r = Reader(data)
    version = r.u16("site version")
    major = r.u8("site protocol version")
    minor = r.u8("site protocol version")
    serial = r.u16("site serial number")
    mask = r.u8("site primary mask")
    hash_option = r.u8("site hash option")
    hash_filter = r.text("site hash filter")
    n_attrs = r.count("site attribute", 8)
    attributes = [
        {"name": r.text("site attribute name"), "value": r.text("site attribute value")}
        for _ in range(n_attrs)
    ]
    n_servers = r.count("site server", _SERVER_MIN)
    servers = [_decode_server(r) for _ in range(n_servers)]
    r.finish("site record")
    return {
        "version": version,
        "protocolVersion": f"{major}.{minor}",
        "serialNumber": serial,
        "primaryMask": mask,
        "hashOption": hash_option,
        "hashFilter": hash_filter,
        "attributes": attributes,
        "servers": servers,
    }
