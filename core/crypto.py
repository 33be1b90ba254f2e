"""Encryption at rest for personal data, and the node's signing key.

Personal data (the contact's resident ID number) is encrypted with a key derived from
the node's secret key, so no second secret has to be kept; rotating the secret key makes
old ciphertexts unreadable, which `decrypt` reports as None rather than failing a page.

The node's signing key (Ed25519) is derived from the same secret the same way: every
process of the node signs with one key without a key file to share, and what the node
signs (escrow sets, tenant archives) carries the public key. ``sign`` and
``verify_signature`` are the one place a node signature is made and checked.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from core.settings import get_settings

_CONTEXT = b"idnest:pii:v1"
_SIGNING_CONTEXT = b"idnest:node-signing:v1"


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


def node_signing_key() -> Ed25519PrivateKey:
    secret = get_settings().resolved_secret_key().encode("utf-8")
    return Ed25519PrivateKey.from_private_bytes(
        hashlib.sha256(_SIGNING_CONTEXT + b"\0" + secret).digest()
    )


def node_public_key() -> str:
    """The node's public key, base64 of the raw 32 bytes."""
    raw = node_signing_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def sign(data: bytes) -> str:
    """The node's Ed25519 signature of ``data``, base64."""
    return base64.b64encode(node_signing_key().sign(data)).decode("ascii")


def verify_signature(public_key: str, data: bytes, signature: str) -> bool:
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key, validate=True))
        key.verify(base64.b64decode(signature, validate=True), data)
    except (InvalidSignature, ValueError):
        return False
    return True
