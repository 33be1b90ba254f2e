"""The audit log: who did what to which thing, when and why; append-only, hash-chained.

Call ``record`` inside the write's own transaction so the trail can never disagree
with the data.

Each entry carries its place in the chain (``seq``), the hash of the entry before it
(``prev_hash``) and its own ``hash``: SHA-256 over the canonical serialization of both
and of its fields (``canonical``: a JSON array, keys sorted, no spaces, UTC timestamps
to the microsecond). The chain head (``audit_head``, one row) names the last link.

How an entry gets its link differs by engine, because linking takes the head's lock:
- SQLite has one writer, so ``record`` links the entry at once, in the write's
  transaction.
- On PostgreSQL, ``record`` only inserts the entry (``seq`` 0, unlinked) and ``seal``
  links what has committed, in a transaction of its own: a batch at a time, in id order,
  under the head's lock. Were writers to take the head's lock themselves, every audited
  write of every tenant would wait on it until its COMMIT, serializing the node's writes
  (measured: 124 writes/s, with the workers almost always waiting on that one row).
  Each process seals shortly after it writes (``_nudge``), a periodic job seals what a
  killed process left (tenants/.. ``audit-seal``), and ``idnest audit verify`` seals
  before it walks.

``verify`` walks the chain in ``seq`` order and names the first entry whose link or
hash does not hold: an edited, deleted or inserted row shows. On SQLite triggers refuse
UPDATE and DELETE. On PostgreSQL the application role may INSERT, may UPDATE only the
link columns (core/rls.py), and a trigger refuses any update of a linked entry. None of
this stops the database's owner, which is why the chain exists: it does not prevent
tampering, it makes it evident.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from piccolo.engine.postgres import PostgresEngine

from core import db
from core.scheduler import periodic
from core.settings import Settings
from core.tables import AuditHead, AuditLog
from core.tenancy import cross_tenant, scope_of

log = logging.getLogger(__name__)

GENESIS = "0" * 64
PAGE = 5000
# How long a process waits after its write before sealing: long enough for the write's
# transaction to commit, short enough that the chain trails the log by well under a
# second. A transaction still open then is sealed by a later write or by ``audit-seal``.
SEAL_DELAY = 0.05
SEAL_LOCK_TIMEOUT_MS = 3000


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
    row: dict[str, Any] = {
        "tenant_id": tenant_id,
        "actor": actor[:255],
        "action": action[:64],
        "target": target[:2048],
        "detail": detail or {},
        "created_at": created_at or datetime.now(UTC),
    }
    async with scope_of(tenant_id):
        if _sealed_later():
            await AuditLog.insert(AuditLog(**row, seq=0, prev_hash="", hash="")).run()
            _nudge()
            return
        seq, prev = await _head()
        row.update(seq=seq + 1, prev_hash=prev)
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
    # Entries committed but not linked yet (PostgreSQL; ``seal`` links them).
    unlinked: int = 0

    @property
    def holds(self) -> bool:
        return self.broken_id is None and not self.reason


async def verify() -> Verdict:
    """Walk the whole chain in link order, a page at a time."""
    prev, seq, count = GENESIS, 0, 0
    async with cross_tenant("staff", write=False):
        while True:
            rows = (
                await AuditLog.select()
                .where(AuditLog.seq > seq)
                .order_by(AuditLog.seq)
                .limit(PAGE)
                .run()
            )
            for row in rows:
                count += 1
                if row["prev_hash"] != prev or int(row["seq"]) != seq + 1:
                    return Verdict(count, row["id"], "its link to the entry before it is broken")
                if entry_hash(row) != row["hash"]:
                    return Verdict(count, row["id"], "its content does not match its hash")
                prev, seq = row["hash"], int(row["seq"])
            if len(rows) < PAGE:
                break
        head = await AuditHead.select().where(AuditHead.id == 1).first().run()
        unlinked = await AuditLog.count().where(AuditLog.seq == 0).run()
    if head is None or (int(head["seq"]), head["hash"]) != (seq, prev):
        return Verdict(count, None, "the chain head does not name the last entry (entries removed)")
    return Verdict(count, unlinked=unlinked)


# -- sealing (PostgreSQL) ---------------------------------------------------------------

_wanted = False  # this process wrote entries since its sealer last looked
_task: asyncio.Task[None] | None = None
_held = 0  # inside sealing_held(): entries wait for flush()


def _sealed_later() -> bool:
    return isinstance(db.engine(), PostgresEngine)


@contextlib.contextmanager
def sealing_held() -> Iterator[None]:
    """Entries written inside are linked by the next ``flush()`` (the CLI's, at exit), not
    moments later. ``idnest migrate`` writes entries inside its one transaction; a sealer
    on another connection could not see the tables that transaction creates (audit_head)
    and warned "sealing failed" on every fresh database."""
    global _held
    _held += 1
    try:
        yield
    finally:
        _held -= 1


def _nudge() -> None:
    """Have this process seal soon, once, however many entries it writes meanwhile."""
    global _wanted, _task
    _wanted = True
    if _held:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    if _task is None or _task.done() or _task.get_loop() is not loop:
        # A fresh context: the sealer must not join the writer's transaction or scope.
        _task = loop.create_task(_seal_soon(), context=contextvars.Context())


async def _seal_soon() -> None:
    global _wanted
    while _wanted:
        _wanted = False
        await asyncio.sleep(SEAL_DELAY)
        try:
            await seal()
        except Exception as exc:  # the periodic job and the next write try again
            log.warning("audit: sealing failed, left for the next attempt: %s", exc)
            return


async def flush() -> None:
    """Seal what this process wrote (a command before it exits, a server at shutdown).
    A failure only warns: ``audit-seal`` links the entries later."""
    global _wanted
    try:
        loop = asyncio.get_running_loop()
        if _task is not None and not _task.done() and _task.get_loop() is loop:
            await _task
        if _wanted:
            _wanted = False
            await seal()
    except Exception as exc:
        log.warning("audit: sealing at exit failed, left for audit-seal: %s", exc)


async def seal(limit: int = PAGE) -> int:
    """Link every committed entry that has no link yet, in id order; the number linked.

    The head's row lock makes concurrent sealers (every process has one) take turns,
    and each links only entries still unlinked, so none is linked twice."""
    if not _sealed_later():
        return 0
    total = 0
    while True:
        async with cross_tenant("maintenance", write=True):
            conn = db.transaction_connection()
            # A sealer whose process stalls (a blocked event loop) holds the head: the
            # others give up after a while and leave its entries to a later seal.
            await conn.execute(f"SET LOCAL lock_timeout = '{SEAL_LOCK_TIMEOUT_MS}ms'")
            head = await conn.fetchrow("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE")
            if head is None:
                raise RuntimeError("audit_head has no row: run `idnest migrate`")
            rows = await conn.fetch(
                "SELECT id, tenant_id, actor, action, target, detail, created_at "
                "FROM audit_log WHERE seq = 0 ORDER BY id LIMIT $1",
                limit,
            )
            seq, prev = int(head["seq"]), str(head["hash"])
            links = []
            for row in rows:
                entry = {**dict(row), "seq": seq + 1, "prev_hash": prev}
                seq, prev = seq + 1, entry_hash(entry)
                links.append((row["id"], seq, entry["prev_hash"], prev))
            if links:
                await conn.executemany(
                    "UPDATE audit_log SET seq = $2, prev_hash = $3, hash = $4 "
                    "WHERE id = $1 AND seq = 0",
                    links,
                )
                await conn.execute(
                    "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1", seq, prev
                )
        total += len(links)
        if len(links) < limit:
            return total


@periodic("audit-seal", every=lambda s: s.audit_seal_interval)
async def seal_left_over(settings: Settings) -> str:
    """What a process killed between its write and its seal left unlinked."""
    return f"{await seal()} entries linked"


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


# PostgreSQL: a linked entry is never linked again (the app role may write only the link
# columns, core/rls.py). Owners can drop the trigger; the chain then shows the edit.
POSTGRES_DDL = [
    """CREATE OR REPLACE FUNCTION audit_log_link_once() RETURNS trigger AS $$
    BEGIN
      IF OLD.seq <> 0 THEN
        RAISE EXCEPTION 'audit_log is append-only: entry % is already linked', OLD.id
          USING ERRCODE = 'insufficient_privilege';
      END IF;
      RETURN NEW;
    END $$ LANGUAGE plpgsql""",
    "DROP TRIGGER IF EXISTS audit_log_link_once ON audit_log",
    "CREATE TRIGGER audit_log_link_once BEFORE UPDATE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_link_once()",
]
# Both: the chain is walked in link order, and the unlinked are found without a scan.
INDEX_DDL = [
    # Not UNIQUE: a unique key without tenant_id would keep audit_log off Citus
    # (core/citus.py); verify sees a repeated place as a broken link anyway.
    "CREATE INDEX IF NOT EXISTS audit_log_linked_seq ON audit_log (seq) WHERE seq > 0",
    "CREATE INDEX IF NOT EXISTS audit_log_unlinked ON audit_log (id) WHERE seq = 0",
]

# SQLite: the application cannot change or remove an entry (an attacker with the file can
# drop these; the chain then shows the edit). PostgreSQL: core/rls.py revokes the rights.
SQLITE_TRIGGERS = [
    f"CREATE TRIGGER IF NOT EXISTS audit_log_no_{op.lower()} BEFORE {op} ON audit_log "
    f"BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
    for op in ("UPDATE", "DELETE")
]
