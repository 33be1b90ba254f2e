"""Encryption at rest for personal data (the contact's resident ID number).

The key is derived from the node's secret key, so no second secret has to be kept;
rotating the secret key makes old ciphertexts unreadable, which `decrypt` reports as
None rather than failing a page.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from core.settings import get_settings

_CONTEXT = b"idnest:pii:v1"


def _fernet() -> Fernet:
    secret = get_settings().resolved_secret_key().encode("utf-8")
    key = hashlib.sha256(_CONTEXT + b"\0" + secret).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(text: str) -> str:
    return _fernet().encrypt(text.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str | None:
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError):
        return None


# The node's signing key (Ed25519), for what it hands out signed: tenant export archives.
# Derived from the node's secret key like the encryption key above, so that no second
# secret has to be kept or backed up; its public half is printed by `idnest archive key`
# and written into every archive it signs.
_SIGNING_CONTEXT = b"idnest:archive-signing:v1"


def _signing_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    secret = get_settings().resolved_secret_key().encode("utf-8")
    seed = hashlib.sha256(_SIGNING_CONTEXT + b"\0" + secret).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def sign(data: bytes) -> str:
    """An Ed25519 signature of ``data`` by the node's key, base64."""
    return base64.b64encode(_signing_key().sign(data)).decode("ascii")


def public_signing_key() -> str:
    """The node's public signing key (raw Ed25519, base64)."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = _signing_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def verify_signature(public_key: str, signature: str, data: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key, validate=True))
        key.verify(base64.b64decode(signature, validate=True), data)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
