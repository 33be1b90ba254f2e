"""Idempotency keys: a repeated create or update is answered, never applied twice.

The key row is claimed inside the write's own transaction and completed with the answer
before commit, so "written" and "remembered" cannot disagree. Two concurrent requests
with one key: on PostgreSQL the second blocks on the unique index until the first
commits, fails, and replays the stored answer; on SQLite writers are serialised and the
second finds the row. A key reused with a different request is refused (409).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from core import db
from core.errors import Conflict, InvalidValue
from core.tenancy import cross_tenant, tenant_transaction
from tenants.identifiers.tables import IdempotencyKey

T = TypeVar("T")
MAX_KEY = 255


class Replay(Exception):
    """Raised inside a write transaction: the request was already answered."""

    def __init__(self, response: Any) -> None:
        super().__init__("replay")
        self.response = response


def fingerprint(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()


class Idempotency:
    """One Idempotency-Key of one tenant for one request fingerprint."""

    def __init__(self, tenant_id: int, key: str, request_fingerprint: str) -> None:
        key = key.strip()
        if not key or len(key) > MAX_KEY or not key.isprintable():
            raise InvalidValue(
                f"Idempotency-Key must be 1-{MAX_KEY} printable characters",
                field="Idempotency-Key",
            )
        self.tenant_id = tenant_id
        self.key = key
        self.fingerprint = request_fingerprint

    async def lookup(self) -> Any | None:
        async with tenant_transaction(self.tenant_id, write=False):
            row = (
                await IdempotencyKey.select(IdempotencyKey.fingerprint, IdempotencyKey.response)
                .where(
                    (IdempotencyKey.tenant_id == self.tenant_id) & (IdempotencyKey.key == self.key)
                )
                .first()
                .run()
            )
        if row is None:
            return None
        if row["fingerprint"] != self.fingerprint:
            raise Conflict(
                f"Idempotency-Key {self.key!r} was already used for a different request; "
                "use a new key for a new request",
                field="Idempotency-Key",
            )
        return json.loads(row["response"] or "null") if row["response"] else None

    async def claim(self) -> None:
        stored = await self.lookup()
        if stored is not None:
            raise Replay(stored)
        row = IdempotencyKey(
            tenant_id=self.tenant_id,
            key=self.key,
            fingerprint=self.fingerprint,
            response="",
            created_at=datetime.now(UTC),
        )
        # Joins the write's transaction, which acts for this same tenant.
        async with tenant_transaction(self.tenant_id):
            await IdempotencyKey.insert(row).run()

    async def complete(self, response: Any) -> None:
        mine = (IdempotencyKey.tenant_id == self.tenant_id) & (IdempotencyKey.key == self.key)
        async with tenant_transaction(self.tenant_id):
            await (
                IdempotencyKey.update({IdempotencyKey.response: json.dumps(response)})
                .where(mine)
                .run()
            )


async def run_once(
    guard: Idempotency | None,
    write: Callable[[Idempotency | None], Awaitable[T]],
    to_json: Callable[[T], Any],
) -> tuple[Any, bool]:
    """Run ``write`` once per key: (answer as JSON, replayed?)."""
    if guard is None:
        return to_json(await write(None)), False
    for attempt in range(5):
        stored = await guard.lookup()
        if stored is not None:
            return stored, True
        try:
            return to_json(await write(guard)), False
        except Replay as replay:
            return replay.response, True
        except Exception as exc:
            # The concurrent twin committed first; its answer is there now.
            if attempt < 4 and db.is_unique_violation(exc):
                continue
            raise
    raise Conflict("the request with this Idempotency-Key is still running; retry")


async def purge(older_than_hours: float = 72.0) -> int:
    """Forget keys older than the retention window (clients retry within minutes)."""
    from datetime import timedelta

    cutoff = datetime.now(UTC) - timedelta(hours=older_than_hours)
    async with cross_tenant("maintenance", write=True):
        rows = (
            await IdempotencyKey.delete()
            .where(IdempotencyKey.created_at < cutoff)
            .returning(IdempotencyKey.id)
            .run()
        )
    return len(rows)
