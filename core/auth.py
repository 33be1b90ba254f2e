"""Authentication primitives: API keys and passwords. No storage, no HTTP.

An API key reads ``idn_<key id>_<secret>``. The key id is stored in clear and shown in
lists, so people can tell their keys apart; the whole key is stored only as a SHA-256
hash. Keys carry 256 bits of randomness, so a fast hash is as safe as a slow one and
keeps the per-request check cheap. Passwords are people's, so they get argon2.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

KEY_PREFIX = "idn"
SCOPES = frozenset({"read", "write"})
_hasher = PasswordHasher()


@dataclass(frozen=True, slots=True)
class NewApiKey:
    key_id: str
    secret_hash: str
    plaintext: str


def generate_api_key() -> NewApiKey:
    key_id = secrets.token_hex(6)
    plaintext = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    return NewApiKey(key_id=key_id, secret_hash=hash_api_key(plaintext), plaintext=plaintext)


def hash_api_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8", "surrogatepass")).hexdigest()


def split_api_key(plaintext: str) -> str | None:
    """The key id of a well-formed key, else None."""
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1]


def api_key_matches(plaintext: str, secret_hash: str) -> bool:
    return hmac.compare_digest(hash_api_key(plaintext), secret_hash)


def parse_scopes(text: str) -> frozenset[str]:
    scopes = frozenset(s.strip() for s in text.split(",") if s.strip())
    unknown = scopes - SCOPES
    if unknown:
        raise ValueError(
            f"unknown scope {', '.join(sorted(unknown))}; use {', '.join(sorted(SCOPES))}"
        )
    if not scopes:
        raise ValueError("at least one scope is needed: read, write")
    return scopes


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# A device's own credential (tenants/devices): it may read what grants naming it reveal,
# nothing of its tenant's beyond the public values, and never write.
DEVICE_SCOPE = "device"


def device_subject(handle_key: str) -> str:
    """How a device is named as a grant's subject (in its client field) and as its
    principal's client_id (tenants/devices): by the handle's folded key, so that the case
    a device writes its handle in does not matter."""
    return f"device:{handle_key}"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: an API key, a tenant member or a staff user."""

    actor: str
    tenant_id: int | None = None
    tenant_prefix: str | None = None
    scopes: frozenset[str] = frozenset()
    is_staff: bool = False
    # Set for an OAuth2 machine client's token: a grant may name one client of a partner.
    client_id: str | None = None

    def can(self, scope: str) -> bool:
        return scope in self.scopes
