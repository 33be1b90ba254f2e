"""Public keys in the Handle system's binary form (hdllib's ``Util.getBytesFromPublicKey``).

Why in core: the wire door checks challenge answers against HS_PUBKEY values, HS_SITE
carries the server's key in this form, and a device's own HTTP token (tenants/devices) is
checked against the same HS_PUBKEY value. The form: the length-prefixed key type
``RSA_PUB_KEY`` or ``DSA_PUB_KEY``, two flag bytes, then the key's length-prefixed
big-endian integers (RSA: exponent, modulus, then 4 zero bytes; DSA: q, p, g, y). We
also read a DER SubjectPublicKeyInfo, a PEM text (what people paste) and the ``RSA`` blob
that idnest wrote before it matched hdllib. Every length is checked against the bytes
left before anything is sliced.
"""

from __future__ import annotations

import base64
import struct
from typing import Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

PublicKey = rsa.RSAPublicKey | dsa.DSAPublicKey
PrivateKey = rsa.RSAPrivateKey | dsa.DSAPrivateKey

RSA_PUB_KEY: Final = b"RSA_PUB_KEY"
DSA_PUB_KEY: Final = b"DSA_PUB_KEY"
_OLD_RSA: Final = b"RSA"  # what idnest wrote before it matched hdllib; still read
_MAX_INT_BYTES: Final = 2048  # a 16384-bit integer: far above any key in use


def blob(raw: bytes) -> bytes:
    """A length-prefixed byte string, as the Handle protocol writes them."""
    return struct.pack(">I", len(raw)) + raw


def _int_bytes(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 8) // 8, "big")  # leading sign byte like Java


def encode_public_key(key: PublicKey) -> bytes:
    """hdllib's binary form of an RSA or DSA public key (``Util.getBytesFromPublicKey``)."""
    if isinstance(key, rsa.RSAPublicKey):
        rn = key.public_numbers()
        return b"".join((blob(RSA_PUB_KEY), b"\x00\x00", blob(_int_bytes(rn.e)),
                         blob(_int_bytes(rn.n)),
                         b"\x00\x00\x00\x00"))  # fmt: skip
    dn = key.public_numbers()
    ints = (dn.parameter_numbers.q, dn.parameter_numbers.p, dn.parameter_numbers.g, dn.y)
    return b"".join((blob(DSA_PUB_KEY), b"\x00\x00", *map(blob, map(_int_bytes, ints))))


class _Blobs:
    """Reads length-prefixed fields, refusing any length past the bytes that are left."""

    def __init__(self, raw: bytes) -> None:
        self.raw, self.pos = raw, 0

    def take(self, n: int, what: str) -> bytes:
        if n > len(self.raw) - self.pos:
            raise ValueError(f"{what}: truncated")
        out = self.raw[self.pos : self.pos + n]
        self.pos += n
        return out

    def blob(self, what: str, limit: int) -> bytes:
        n = int.from_bytes(self.take(4, f"{what} length"), "big")
        if n > limit:
            raise ValueError(f"{what}: {n} bytes is more than {limit}")
        return self.take(n, what)

    def integer(self, what: str) -> int:
        return int.from_bytes(self.blob(what, _MAX_INT_BYTES), "big")


def _decode_handle_key(raw: bytes) -> PublicKey:
    r = _Blobs(raw)
    kind = r.blob("key type", 32)
    r.take(2, "key flags")
    if kind == DSA_PUB_KEY:
        q, p, g, y = (r.integer(f"DSA {n}") for n in "qpgy")
        key: PublicKey = dsa.DSAPublicNumbers(y, dsa.DSAParameterNumbers(p, q, g)).public_key()
    elif kind in (RSA_PUB_KEY, _OLD_RSA):
        e, n = r.integer("RSA exponent"), r.integer("RSA modulus")
        if kind == RSA_PUB_KEY and r.pos < len(raw):
            r.take(4, "RSA trailer")  # hdllib writes 4 zero bytes after the modulus
        key = rsa.RSAPublicNumbers(e, n).public_key()
    else:
        raise ValueError(f"unknown Handle key type {kind.decode('ascii', 'replace')!r}")
    if r.pos != len(raw):
        raise ValueError(f"{len(raw) - r.pos} bytes after the public key")
    return key


def is_handle_form(raw: bytes) -> bool:
    return raw[:4] in (b"\x00\x00\x00\x03", b"\x00\x00\x00\x0b")


def load_any_public_key(raw: bytes) -> PublicKeyTypes:
    """A public key of any type cryptography knows, from hdllib binary, DER or PEM;
    ValueError when the bytes hold none."""
    if raw.lstrip().startswith(b"-----BEGIN"):
        return serialization.load_pem_public_key(raw.lstrip())
    if is_handle_form(raw):
        return _decode_handle_key(raw)
    return serialization.load_der_public_key(raw)


def decode_public_key(raw: bytes) -> PublicKey:
    """An RSA or DSA public key from hdllib binary, DER or PEM; ValueError when it is none."""
    key = load_any_public_key(raw)
    if not isinstance(key, rsa.RSAPublicKey | dsa.DSAPublicKey):
        raise ValueError("only RSA and DSA public keys are supported")
    return key


def value_bytes(fmt: str, value: str) -> bytes:
    """The key bytes of an HS_PUBKEY value as we store it (key/base64/hex data, or PEM)."""
    if fmt in ("key", "base64"):
        return base64.b64decode(value)
    if fmt == "hex":
        return bytes.fromhex(value)
    return value.encode("utf-8")


def public_key_from_value(fmt: str, value: str) -> PublicKey:
    """The RSA or DSA key in an HS_PUBKEY value (what a wire challenge answer signs with)."""
    return decode_public_key(value_bytes(fmt, value))
