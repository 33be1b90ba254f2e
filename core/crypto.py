"""Encryption at rest for personal data (the contact's resident ID number, TOTP secrets).

A keyring: every ciphertext names the key that made it (``k<N>:`` before the Fernet
token). ``k0`` is derived from the node's secret key, so a fresh node keeps no second
secret; ``idnest keys rotate`` adds a new random key to ``var_dir/pii_keys.json`` (or
reads the ring from ``IDNEST_PII_KEYS``, the same JSON, on hosts that share it), makes it
current and re-encrypts what exists. Old keys stay in the ring, so every ciphertext stays
readable until then and after. Ciphertexts from before the ring (no prefix) are ``k0``'s.
A ciphertext no key opens is reported as None rather than failing a page.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from core.settings import get_settings

_CONTEXT = b"idnest:pii:v1"
_PREFIX = re.compile(r"^(k\d{1,6}):")
_ring: tuple[Any, str, dict[str, Fernet]] | None = None


def _ring_path() -> Path:
    return get_settings().var_dir / "pii_keys.json"


def _derived() -> Fernet:
    secret = get_settings().resolved_secret_key().encode("utf-8")
    key = hashlib.sha256(_CONTEXT + b"\0" + secret).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _load() -> tuple[str, dict[str, Fernet]]:
    """(current key id, every key by id), reread when the ring file changed."""
    global _ring
    settings = get_settings()
    path = _ring_path()
    stamp: Any = ("env", settings.pii_keys) if settings.pii_keys else None
    if stamp is None:
        try:
            stamp = ("file", path.stat().st_mtime_ns)
        except FileNotFoundError:
            stamp = ("none",)
    if _ring is not None and _ring[0] == stamp:
        return _ring[1], _ring[2]
    keys = {"k0": _derived()}
    current = "k0"
    text = settings.pii_keys or (path.read_text() if stamp[0] == "file" else "")
    if text:
        data = json.loads(text)
        keys.update({kid: Fernet(key.encode()) for kid, key in data["keys"].items()})
        current = data["current"]
    _ring = (stamp, current, keys)
    return current, keys


def encrypt(text: str) -> str:
    current, keys = _load()
    return f"{current}:" + keys[current].encrypt(text.encode("utf-8")).decode("ascii")


def key_id(token: str) -> str:
    """The id of the key that made ``token`` (k0 for tokens from before the ring)."""
    m = _PREFIX.match(token)
    return m.group(1) if m else "k0"


def decrypt(token: str) -> str | None:
    _, keys = _load()
    m = _PREFIX.match(token)
    kid, body = (m.group(1), token[m.end() :]) if m else ("k0", token)
    key = keys.get(kid)
    if key is None:
        return None
    try:
        return key.decrypt(body.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError):
        return None


def current_key_id() -> str:
    return _load()[0]


def add_key() -> str:
    """Add a new random key to the ring file and make it current; its id."""
    settings = get_settings()
    if settings.pii_keys:
        raise RuntimeError("the keyring comes from IDNEST_PII_KEYS: add the key there")
    _, keys = _load()
    path = _ring_path()
    data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {"keys": {}}
    number = max(int(k[1:]) for k in keys) + 1
    kid = f"k{number}"
    data["keys"][kid] = Fernet.generate_key().decode("ascii")
    data["current"] = kid
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)
    return kid


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
