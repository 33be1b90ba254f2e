"""Encryption at rest for personal data (the contact's resident ID number).

The key is derived from the node's secret key, so no second secret has to be kept;
rotating the secret key makes old ciphertexts unreadable, which `decrypt` reports as
None rather than failing a page.
"""

from __future__ import annotations

import base64
import hashlib

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
