"""One-time email tokens: confirmation, password reset, invitation.

Only a SHA-256 of the token is stored; the link in the mail is the only copy.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from core.errors import InvalidValue
from tenants.onboarding.tables import EmailToken

LIFETIMES = {"confirm": timedelta(days=3), "reset": timedelta(hours=1), "invite": timedelta(days=7)}


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


async def issue(
    purpose: str, email: str, *, user_id: int | None = None, payload: dict[str, Any] | None = None
) -> str:
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    await EmailToken.insert(
        EmailToken(
            token_hash=_hash(token),
            purpose=purpose,
            email=email,
            user_id=user_id,
            payload=payload or {},
            expires_at=now + LIFETIMES[purpose],
            created_at=now,
        )
    ).run()
    return token


async def peek(purpose: str, token: str) -> dict[str, Any]:
    """The token's row if it is valid, unused and unexpired; else InvalidValue."""
    row = (
        await EmailToken.select()
        .where((EmailToken.token_hash == _hash(token)) & (EmailToken.purpose == purpose))
        .first()
        .run()
    )
    if row is None or row["used_at"] is not None:
        raise InvalidValue("this link is not valid or has already been used", field="token")
    expires = row["expires_at"]
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    if expires < datetime.now(UTC):
        raise InvalidValue("this link has expired", field="token")
    payload = row["payload"]
    if isinstance(payload, str):
        import json

        row["payload"] = json.loads(payload or "{}")
    return row


async def consume(purpose: str, token: str) -> dict[str, Any]:
    """Check and mark used, inside the caller's transaction."""
    row = await peek(purpose, token)
    await (
        EmailToken.update({EmailToken.used_at: datetime.now(UTC)})
        .where((EmailToken.id == row["id"]) & EmailToken.used_at.is_null())
        .run()
    )
    return row
