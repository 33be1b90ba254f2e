"""Batch registration: the one write path, set-wise (SNMS batches, bulk jobs).

The same rules as ``identifiers.put_record`` (authorisation, value parsing, templates,
size, audit and outbox rows, invalidation), applied to many records in one transaction:
one look-up of the existing rows and one multi-row insert per table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core import db
from core.auth import Principal
from core.bus import get_bus
from core.errors import HandleAlreadyExists, HandleNotFound, IdnestError, InvalidValue
from core.identifiers import Handle, parse_handle
from core.outbox import OP_ADD, OP_MODIFY
from core.tables import AuditLog, Outbox
from core.values import (
    HandleValue,
    default_admin_value,
    dump_values,
    load_values,
    now_timestamp,
    parse_values,
)
from tenants.registry.sql import insert_many, update_records
from tenants.registry.templates import validate_record
from tenants.services.identifiers import (
    IdempotencyGuard,
    WriteResult,
    _active_tenant,
    _check_size,
    _merge,
    _require,
    check_served,
)
from tenants.tables import Identifier


@dataclass(frozen=True, slots=True)
class BatchItem:
    handle: str
    body: Any


BatchOutcome = WriteResult | IdnestError
_IDENTIFIER_COLUMNS = {
    "tenant": "int",
    "handle": "text",
    "handle_key": "text",
    "values": "text",
    "created_at": "ts",
    "updated_at": "ts",
    "version": "int",
}
_AUDIT_COLUMNS = {
    "tenant_id": "int",
    "actor": "text",
    "action": "text",
    "target": "text",
    "detail": "json",
    "created_at": "ts",
}
_OUTBOX_COLUMNS = {"tenant_id": "int", "topic": "text", "payload": "json", "created_at": "ts"}


async def put_records(
    principal: Principal | None,
    items: list[BatchItem],
    *,
    mode: str = "upsert",
    idempotency: IdempotencyGuard | None = None,
) -> list[BatchOutcome]:
    """Write many records in one transaction, with one outcome per item, in order.

    The same rules as ``put_record`` (authorisation, value parsing, templates, size,
    audit and outbox rows, invalidation), but set-wise: one look-up of the existing
    rows, one multi-row insert, so SNMS batches and bulk jobs are fast. ``mode`` is
    ``create`` (an existing handle fails), ``update`` (a missing one fails) or
    ``upsert``; an update replaces the record and keeps its HS_ADMIN values. A bad item
    fails alone; the others are written.
    """
    if mode not in ("create", "update", "upsert"):
        raise InvalidValue(f"unknown batch mode {mode!r}", field="mode")
    outcomes: list[BatchOutcome | None] = [None] * len(items)
    parsed: dict[str, tuple[int, Handle, list[HandleValue]]] = {}
    ts = now_timestamp()
    tenant_id: int | None = None
    for n, item in enumerate(items):
        try:
            handle = parse_handle(item.handle)
            check_served(handle)
            principal = _require(principal, "write", handle)
            if tenant_id is None:
                tenant_id = await _active_tenant(principal, handle)
            values = parse_values(item.body, timestamp=ts)
            if handle.key in parsed:
                raise InvalidValue(f"handle {handle.text} appears twice in this batch")
            parsed[handle.key] = (n, handle, values)
        except IdnestError as exc:
            outcomes[n] = exc
    if tenant_id is not None and parsed:
        assert principal is not None
        for attempt in range(3):
            try:
                await _write_batch(principal, tenant_id, parsed, outcomes, mode, idempotency)
                break
            except Exception as exc:
                # A concurrent writer created one of these handles after our look-up;
                # the whole transaction rolled back, so look again and redo the batch.
                if attempt == 2 or not db.is_unique_violation(exc):
                    raise
                for n, _handle, _values in parsed.values():
                    outcomes[n] = None
    return [o if o is not None else IdnestError("not processed") for o in outcomes]


async def _write_batch(
    principal: Principal,
    tenant_id: int,
    parsed: dict[str, tuple[int, Handle, list[HandleValue]]],
    outcomes: list[BatchOutcome | None],
    mode: str,
    idempotency: IdempotencyGuard | None,
) -> None:
    now = datetime.now(UTC)
    written: list[str] = []
    async with db.write_transaction():
        if idempotency is not None:
            await idempotency.claim()
        if isinstance(db.engine(), db.PostgresEngine):
            # A plan cached while the table was small scans it whole for every batch,
            # which makes a million-row load quadratic; plan each look-up afresh.
            await db.engine().run_ddl("SET LOCAL plan_cache_mode = force_custom_plan")
        query = Identifier.select(
            Identifier.id,
            Identifier.handle,
            Identifier.handle_key,
            Identifier.values,
            Identifier.version,
        ).where((Identifier.tenant == tenant_id) & Identifier.handle_key.is_in(list(parsed)))
        if isinstance(db.engine(), db.PostgresEngine):
            query = query.lock_rows("UPDATE")
        existing = {r["handle_key"]: r for r in await query.run()}
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        audits: list[dict[str, Any]] = []
        outbox: list[dict[str, Any]] = []
        for key, (n, handle, values) in parsed.items():
            row = existing.get(key)
            try:
                if row is None and mode == "update":
                    raise HandleNotFound(f"handle {handle.text} does not exist", handle=handle.text)
                if row is not None and mode == "create":
                    raise HandleAlreadyExists(
                        f"handle {row['handle']} already exists", handle=row["handle"]
                    )
                if row is None:
                    values = await validate_record(tenant_id, values)
                    if not any(v.type == "HS_ADMIN" for v in values):
                        admin = default_admin_value(
                            principal.tenant_prefix or "",
                            values[0].timestamp if values else now_timestamp(),
                            taken={v.index for v in values},
                        )
                        values = [admin, *values]
                    values = sorted(values, key=lambda v: v.index)
                    _check_size(values)
                    inserts.append(
                        {
                            "tenant": tenant_id,
                            "handle": handle.text,
                            "handle_key": key,
                            "values": dump_values(values),
                            "created_at": now,
                            "updated_at": now,
                            "version": 1,
                        }
                    )
                    result, op = WriteResult(handle.text, True, 1), OP_ADD
                else:
                    merged = _merge(load_values(row["values"]), values, None, overwrite=True)
                    merged = await validate_record(tenant_id, merged)
                    _check_size(merged)
                    version = row["version"] + 1
                    updates.append(
                        {"id": row["id"], "values": dump_values(merged), "version": version}
                    )
                    result, op = WriteResult(row["handle"], False, version), OP_MODIFY
            except IdnestError as exc:
                exc.handle = exc.handle or handle.text
                outcomes[n] = exc
                continue
            outcomes[n] = result
            written.append(key)
            audits.append(
                {
                    "tenant_id": tenant_id,
                    "actor": principal.actor,
                    "action": "identifier.create" if result.created else "identifier.update",
                    "target": result.handle[:2048],
                    "detail": {"version": result.version, "batch": True},
                    "created_at": now,
                }
            )
            outbox.append(
                {
                    "tenant_id": tenant_id,
                    "topic": "upstream.identifier",
                    "payload": {"handle": result.handle, "op": op},
                    "created_at": now,
                }
            )
        await insert_many(Identifier, _IDENTIFIER_COLUMNS, inserts)
        await update_records(updates, now)
        await insert_many(AuditLog, _AUDIT_COLUMNS, audits)
        await insert_many(Outbox, _OUTBOX_COLUMNS, outbox)
        if idempotency is not None:
            await idempotency.complete([outcome_json(o) for o in outcomes])
    if written:
        await get_bus().publish(*(f"rec:{k}" for k in written))


def outcome_json(o: BatchOutcome | None) -> dict[str, Any]:
    if isinstance(o, WriteResult):
        return {"handle": o.handle, "created": o.created, "version": o.version}
    if o is None:
        return {"error": "not processed", "rc": 2}
    return {"handle": o.handle, "error": o.detail, "rc": o.rc, "title": o.title}
