"""hdllib's binary form of an RSA or DSA public key (``Util.getBytesFromPublicKey``).

In the kernel because both the wire door (HS_PUBKEY, the node's own HS_SITE key) and a
context (a self-deployed tenant's server keys, tenants/enterprise) write it, and a
context may not import the resolver. resolver.wire.keys reads it back.
"""

from __future__ import annotations

import struct
from typing import Final

from cryptography.hazmat.primitives.asymmetric import dsa, rsa

RSA_PUB_KEY: Final = b"RSA_PUB_KEY"
DSA_PUB_KEY: Final = b"DSA_PUB_KEY"


def _blob(raw: bytes) -> bytes:
    return struct.pack(">I", len(raw)) + raw


def _int_bytes(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 8) // 8, "big")  # leading sign byte like Java


def encode_handle_key(key: rsa.RSAPublicKey | dsa.DSAPublicKey) -> bytes:
    """Key type (length-prefixed), two flag bytes, the key's length-prefixed integers
    (RSA: exponent, modulus, then 4 zero bytes; DSA: q, p, g, y)."""
    if isinstance(key, rsa.RSAPublicKey):
        rn = key.public_numbers()
        return b"".join((_blob(RSA_PUB_KEY), b"\x00\x00", _blob(_int_bytes(rn.e)),
                         _blob(_int_bytes(rn.n)), b"\x00\x00\x00\x00"))  # fmt: skip
    dn = key.public_numbers()
    ints = (dn.parameter_numbers.q, dn.parameter_numbers.p, dn.parameter_numbers.g, dn.y)
    return b"".join((_blob(DSA_PUB_KEY), b"\x00\x00", *map(_blob, map(_int_bytes, ints))))
