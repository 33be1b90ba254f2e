"""Load a tenant's archive into this node, where its prefix must be free.

The archive is verified (signature, every hash and row count) before anything is
written; then the tenant and all its rows are written in one transaction, so an import
that fails or is killed midway leaves nothing behind. Rows keep their values and
timestamps; ids are this node's. Credentials do not travel (docs/ownership.md): keys
and SNMS accounts arrive unusable until issued again, members without a password.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from core import audit, db
from core.bus import get_bus
from core.errors import Conflict, IdnestError
from core.identifiers import fold, is_under
from core.outbox import OP_ADD, enqueue
from core.settings import get_settings
from core.tenancy import TENANT_TABLES, cross_tenant, erase_order, piccolo_table, tenant_transaction
from tenants.accounts.tables import Tenant, User
from tenants.ownership.services import archive
from tenants.ownership.services.bulk_sql import insert_many
from tenants.ownership.services.rows import import_row, line_type

INSERT_ROWS = 1000


Progress = Callable[[str, int], Awaitable[None]]
# Called inside the import's transaction once every row is written: what must commit
# with the tenant (a staff import job's ``done``), given the prefix and the new tenant id.
BeforeCommit = Callable[[str, int], Awaitable[None]]


async def import_archive(
    path: Path,
    *,
    actor: str,
    trusted_keys: tuple[str, ...] = (),
    progress: Progress | None = None,
    before_commit: BeforeCommit | None = None,
) -> dict:
    verified = archive.verify(path, trusted_keys=trusted_keys)
    manifest = verified.manifest
    prefix = fold(str(manifest.get("tenant", "")))
    node_prefix = fold(get_settings().node_prefix)
    if not is_under(prefix, node_prefix) or prefix == node_prefix:
        raise archive.ArchiveInvalid(f"prefix {prefix} is not under this node's {node_prefix}")
    if await Tenant.exists().where(Tenant.prefix == prefix).run():
        raise Conflict(f"prefix {prefix} is already allocated on this node", field="tenant")
    counts: dict[str, int] = {}
    with archive.open_archive(path) as tar:
        async with cross_tenant("ownership", write=True):
            tenant_id = await _insert_tenant(tar, prefix)
            await audit.record(
                actor=actor,
                action="tenant.import",
                target=prefix,
                detail={
                    "from_node": manifest.get("node"),
                    "created_at": manifest.get("created_at"),
                },
            )
            async with tenant_transaction(tenant_id):
                ids: dict[str, dict[int, int]] = {}
                parents = {t.parent for t in TENANT_TABLES if t.parent}
                for table in reversed(erase_order()):
                    if not table.exportable:
                        continue
                    try:
                        counts[table.name] = await _load_table(
                            tar, table, (tenant_id, prefix), ids, parents, progress
                        )
                    except Exception as exc:
                        refused = _refusal(table.name, exc)
                        if refused is None:
                            raise
                        raise refused from None
                await enqueue(
                    "upstream.tenant", {"prefix": prefix, "op": "add"}, tenant_id=tenant_id
                )
            if before_commit is not None:
                await before_commit(prefix, tenant_id)
    await get_bus().publish(f"tenant:{prefix}")
    return {"tenant": prefix, "tenant_id": tenant_id, "rows": counts}


async def _insert_tenant(tar: Any, prefix: str) -> int:
    rows = [r for batch in archive.iter_rows(tar, "tenant.ndjson") for r in batch]
    if len(rows) != 1:
        raise archive.ArchiveInvalid("tenant.ndjson must hold exactly one tenant")
    t = rows[0]
    now = datetime.now(UTC)
    row = Tenant(
        prefix=prefix,
        code=str(t.get("code") or prefix.rsplit(".", 1)[-1]),
        name=str(t.get("name") or prefix),
        status=str(t.get("status") or "active"),
        created_at=datetime.fromisoformat(t["created_at"]) if t.get("created_at") else now,
        updated_at=datetime.fromisoformat(t["updated_at"]) if t.get("updated_at") else now,
    )
    return int((await Tenant.insert(row).returning(Tenant.id).run())[0]["id"])


async def _user_for(email: str, display_name: str) -> int:
    found = await User.select(User.id).where(User.email == email).first().run()
    if found is not None:
        return int(found["id"])
    row = User(
        email=email, password_hash="", display_name=display_name, created_at=datetime.now(UTC)
    )
    return int((await User.insert(row).returning(User.id).run())[0]["id"])


async def _append_audit(values: list[dict[str, Any]], tenant_id: int) -> None:
    """The other node's audit entries, appended to this node's chain (core/audit.py):
    their links were the other node's, so each is linked anew, after the
    ``tenant.import`` entry, keeping who, what, which, why and when."""
    for v in values:
        raw = v.get("detail")
        try:
            found = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            found = raw
        when = v.get("created_at")
        if isinstance(when, str):
            when = datetime.fromisoformat(when)
        await audit.record(
            actor=str(v.get("actor") or "import"), action=str(v.get("action")),
            target=str(v.get("target") or ""), tenant_id=tenant_id,
            detail=found if isinstance(found, dict) else {"detail": found},
            created_at=when if isinstance(when, datetime) else None,
        )  # fmt: skip


async def _membership(
    raw: dict[str, Any],
    table: Any,
    cls: Any,
    tenant: tuple[int, str],
    ids: dict[str, dict[int, int]],
) -> dict[str, Any]:
    user = await _user_for(raw.pop("email", ""), raw.pop("display_name", ""))
    return import_row(table, cls, {**raw, "user": user}, tenant, ids)


def _refusal(table: str, exc: Exception) -> archive.ArchiveInvalid | None:
    """A row the archive's signer vouched for but this node cannot take (not valid JSON,
    a wrong type, a record of another prefix, a duplicate) refuses the archive, named;
    the transaction around it leaves nothing behind. None for any other failure."""
    if isinstance(exc, archive.ArchiveInvalid):
        return exc
    if isinstance(exc, IdnestError | ValueError | TypeError | msgspec.ValidationError) or (
        db.is_rejected_row(exc)
    ):
        return archive.ArchiveInvalid(f"{table}.ndjson: {_reason(exc)}")
    return None


def _reason(exc: BaseException) -> str:
    detail = getattr(exc, "detail", None)
    return str(detail or exc).splitlines()[0][:300]


async def _load_table(
    tar: Any,
    table: Any,
    tenant: tuple[int, str],
    ids: dict[str, dict[int, int]],
    parents: set,
    progress: Progress | None,
) -> int:
    cls = piccolo_table(table.name)
    tenant_id = tenant[0]
    loaded = 0
    # A plain table's batch is inserted while the next one is decoded and converted (the
    # database works off the event loop's thread: SQLite's in aiosqlite's, PostgreSQL in
    # its own process), so the import uses a second core. Nothing else touches the
    # connection until that insert is awaited.
    pending: asyncio.Task[None] | None = None
    try:
        lines = archive.iter_rows(
            tar, f"{table.name}.ndjson", batch=INSERT_ROWS, line_type=line_type(table.name, cls)
        )
        for batch in lines:
            if table.name != "memberships":  # (a member's user is looked up: a query)
                values = [import_row(table, cls, raw, tenant, ids) for raw in batch]
            if pending is not None:
                await pending
                pending = None
                if progress is not None:
                    await progress(table.name, loaded)
            if table.name == "memberships":
                values = [await _membership(raw, table, cls, tenant, ids) for raw in batch]
            if table.name == "audit_log":
                await _append_audit(values, tenant_id)
            elif table.name in parents:
                # The new ids are needed (children point at them): Piccolo, with RETURNING.
                query = cls.insert(*[cls(**v) for v in values])
                new = await query.returning(cls._meta.primary_key).run()
                ids.setdefault(table.name, {}).update(
                    (int(old["id"]), int(n["id"])) for old, n in zip(batch, new, strict=True)
                )
            else:
                if table.name == "identifiers":  # upstream as adds, one outbox row per batch
                    items = [{"handle": v["handle"], "op": OP_ADD} for v in values]
                    await enqueue("upstream.identifier", {"items": items}, tenant_id=tenant_id)
                pending = asyncio.create_task(insert_many(cls, values))
                await asyncio.sleep(0)  # let it hand its statement to the database
            loaded += len(batch)
            if pending is None and progress is not None:
                await progress(table.name, loaded)
        if pending is not None:
            await pending
            pending = None
            if progress is not None:
                await progress(table.name, loaded)
    finally:
        if pending is not None:  # failing: stop the insert, and wait, before the rollback
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
    return loaded
