"""The audit log: who did what to which thing, when and why; append-only, hash-chained.

Call ``record`` inside the write's own transaction so the trail can never disagree
with the data.

Each entry carries its place in the chain (``seq``), the hash of the entry before it
(``prev_hash``) and its own ``hash``: SHA-256 over the canonical serialization of both
and of its fields (``canonical``: a JSON array, keys sorted, no spaces, UTC timestamps
to the microsecond). Appends lock the chain head (``audit_head``, one row) inside the
writer's transaction (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite has a single
writer), so two writers never hang entries on the same link. ``verify`` walks the chain
and names the first entry whose link or hash does not hold: an edited, deleted or
inserted row shows. On SQLite triggers refuse UPDATE and DELETE; on PostgreSQL the
application role may only INSERT (core/rls.py). Neither stops the database's owner,
which is why the chain exists: it does not prevent tampering, it makes it evident.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from piccolo.engine.postgres import PostgresEngine

from core import db
from core.tables import AuditHead, AuditLog
from core.tenancy import cross_tenant, scope_of

GENESIS = "0" * 64
PAGE = 5000


def _detail_text(detail: Any) -> str:
    """The detail as canonical JSON; a stored text that is not JSON stays as it is (so
    a row edited into nonsense still hashes, and differs)."""
    if isinstance(detail, str):
        try:
            detail = json.loads(detail)
        except ValueError:
            return detail
    return json.dumps(detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _when(value: Any) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return str(value.astimezone(UTC).isoformat(timespec="microseconds"))


def canonical(row: dict[str, Any]) -> bytes:
    """The bytes an entry's hash is taken over."""
    fields = [
        int(row["seq"]),
        row["prev_hash"],
        row["tenant_id"],
        row["actor"],
        row["action"],
        row["target"],
        _detail_text(row["detail"]),
        _when(row["created_at"]),
    ]
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(row: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(row)).hexdigest()


async def _head() -> tuple[int, str]:
    """The chain head, locked for this transaction."""
    if isinstance(db.engine(), PostgresEngine):
        rows = await AuditHead.raw("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE").run()
    else:
        rows = await AuditHead.select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1).run()
    if not rows:
        raise RuntimeError("audit_head has no row: run `idnest migrate`")
    return int(rows[0]["seq"]), str(rows[0]["hash"])


async def record(
    *,
    actor: str,
    action: str,
    target: str = "",
    tenant_id: int | None = None,
    detail: dict[str, Any] | None = None,
    created_at: datetime | None = None,
) -> None:
    """Append an entry. ``created_at`` is now, except for entries an import carries
    over from another node (they keep their time; the chain keeps their order here)."""
    # Joins the caller's transaction (scoping it if it was not): a tenant's event is
    # that tenant's row, a node-level event (no tenant) the node's.
    async with scope_of(tenant_id):
        seq, prev = await _head()
        row: dict[str, Any] = {
            "seq": seq + 1,
            "prev_hash": prev,
            "tenant_id": tenant_id,
            "actor": actor[:255],
            "action": action[:64],
            "target": target[:2048],
            "detail": detail or {},
            "created_at": created_at or datetime.now(UTC),
        }
        digest = entry_hash(row)
        await AuditLog.insert(AuditLog(**row, hash=digest)).run()
        await (
            AuditHead.update({AuditHead.seq: seq + 1, AuditHead.hash: digest})
            .where(AuditHead.id == 1)
            .run()
        )


@dataclass(frozen=True)
class Verdict:
    entries: int
    broken_id: int | None = None
    reason: str = ""

    @property
    def holds(self) -> bool:
        return self.broken_id is None and not self.reason


async def verify() -> Verdict:
    """Walk the whole chain in id order, a page at a time."""
    prev, seq, last_id, count = GENESIS, 0, 0, 0
    async with cross_tenant("staff", write=False):
        while True:
            rows = (
                await AuditLog.select()
                .where(AuditLog.id > last_id)
                .order_by(AuditLog.id)
                .limit(PAGE)
                .run()
            )
            for row in rows:
                count += 1
                if row["prev_hash"] != prev or int(row["seq"]) != seq + 1:
                    return Verdict(count, row["id"], "its link to the entry before it is broken")
                if entry_hash(row) != row["hash"]:
                    return Verdict(count, row["id"], "its content does not match its hash")
                prev, seq, last_id = row["hash"], int(row["seq"]), row["id"]
            if len(rows) < PAGE:
                break
        head = await AuditHead.select().where(AuditHead.id == 1).first().run()
    if head is None or (int(head["seq"]), head["hash"]) != (seq, prev):
        return Verdict(count, None, "the chain head does not name the last entry (entries removed)")
    return Verdict(count)


async def chain_existing() -> int:
    """Chain rows written before the chain existed (the migration, which runs as the
    owner before the append-only rules exist), in id order; then set the head."""
    prev, seq, last_id = GENESIS, 0, 0
    while True:
        rows = (
            await AuditLog.select().where(AuditLog.id > last_id).order_by(AuditLog.id)
            .limit(PAGE).run()
        )  # fmt: skip
        for row in rows:
            seq += 1
            row = {**row, "seq": seq, "prev_hash": prev}
            prev = entry_hash(row)
            await (
                AuditLog.update(
                    {AuditLog.seq: seq, AuditLog.prev_hash: row["prev_hash"], AuditLog.hash: prev}
                )
                .where(AuditLog.id == row["id"])
                .run()
            )
            last_id = row["id"]
        if len(rows) < PAGE:
            break
    await AuditHead.delete(force=True).run()
    await AuditHead.insert(AuditHead(id=1, seq=seq, hash=prev)).run()
    return seq


# SQLite: the application cannot change or remove an entry (an attacker with the file can
# drop these; the chain then shows the edit). PostgreSQL: core/rls.py revokes the rights.
SQLITE_TRIGGERS = [
    f"CREATE TRIGGER IF NOT EXISTS audit_log_no_{op.lower()} BEFORE {op} ON audit_log "
    f"BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
    for op in ("UPDATE", "DELETE")
]
