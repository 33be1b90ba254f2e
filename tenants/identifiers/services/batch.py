"""Batch registration: the one write path, set-wise (SNMS batches, bulk jobs).

The same rules as ``identifiers.put_record`` (authorisation, value parsing, templates,
size, audit and outbox rows, invalidation), applied to many records in one transaction:
one look-up of the existing rows and one multi-row insert.

A batch is written in two steps. ``prepare`` does the CPU work outside any transaction:
it parses every item and builds the record each would become if its handle is new.
``write`` then runs the transaction. A bulk job prepares chunk N+1 while chunk N is
being written, so Python and PostgreSQL work at the same time instead of in turn.

The audit log and the outbox get one row per batch, listing its handles: a row per
identifier would cost a million-row job two million more index insertions.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core import audit, db, outbox, quota, usage
from core.auth import Principal
from core.bus import get_bus
from core.errors import HandleAlreadyExists, HandleNotFound, IdnestError, InvalidValue
from core.identifiers import Handle, check_new_handle, parse_handle
from core.outbox import OP_ADD, OP_MODIFY
from core.tenancy import tenant_transaction
from core.values import (
    HandleValue,
    default_admin_value,
    dump_values,
    load_values,
    now_timestamp,
    parse_values,
)
from tenants.identifiers.services.records import (
    IdempotencyGuard,
    WriteResult,
    active_tenant,
    check_record_size,
    check_served,
    merge_values,
    require_scope,
)
from tenants.identifiers.services.search import index_text
from tenants.identifiers.services.sql import NewRecords, insert_new, locked_records, update_records
from tenants.templates.services.templates import Template
from tenants.templates.services.validation import validate_record

MODES = ("create", "update", "upsert")
# How many items ``prepare`` handles before it lets the event loop run a concurrent write.
_YIELD_EVERY = 50


@dataclass(frozen=True, slots=True)
class BatchItem:
    handle: str
    body: Any


BatchOutcome = WriteResult | IdnestError


@dataclass(slots=True)
class _Item:
    position: int
    handle: Handle
    values: list[HandleValue]
    # Why this item cannot be inserted as a new record, if it cannot. Unused when the
    # handle exists: then the item is merged into the record.
    new_error: IdnestError | None = None


@dataclass(slots=True)
class PreparedBatch:
    principal: Principal | None
    mode: str
    tenant_id: int | None
    items: dict[str, _Item]
    outcomes: list[BatchOutcome | None]
    templates: dict[str, Template] = field(default_factory=dict)
    # Every item that can be a new record, built as it would be inserted: the write
    # then only sends these columns, which keeps Python off the write's critical path.
    fresh: NewRecords = field(default_factory=NewRecords)


async def put_records(
    principal: Principal | None,
    items: list[BatchItem],
    *,
    mode: str = "upsert",
    idempotency: IdempotencyGuard | None = None,
) -> list[BatchOutcome]:
    """Write many records in one transaction, with one outcome per item, in order.

    ``mode`` is ``create`` (an existing handle fails), ``update`` (a missing one fails)
    or ``upsert``; an update replaces the record and keeps its HS_ADMIN values. A bad
    item fails alone; the others are written.
    """
    return await write(await prepare(principal, items, mode=mode), idempotency=idempotency)


async def prepare(
    principal: Principal | None, items: list[BatchItem], *, mode: str = "upsert"
) -> PreparedBatch:
    """Parse and check every item, and build each new record, before any transaction."""
    if mode not in MODES:
        raise InvalidValue(f"unknown batch mode {mode!r}", field="mode")
    batch = PreparedBatch(principal, mode, None, {}, [None] * len(items))
    ts = now_timestamp()
    allowed: set[str] = set()  # prefixes already checked: a batch rarely has more than one
    for n, item in enumerate(items):
        if n % _YIELD_EVERY == _YIELD_EVERY - 1:
            await asyncio.sleep(0)
        try:
            handle = check_new_handle(parse_handle(item.handle))
            if handle.prefix not in allowed:
                check_served(handle)
                batch.principal = require_scope(batch.principal, "write", handle)
                if batch.tenant_id is None:
                    batch.tenant_id = await active_tenant(batch.principal, handle)
                allowed.add(handle.prefix)
            values = parse_values(item.body, timestamp=ts)
            key = handle.key
            if key in batch.items:
                raise InvalidValue(f"handle {handle.text} appears twice in this batch")
        except IdnestError as exc:
            batch.outcomes[n] = exc
            continue
        prepared = _Item(n, handle, values)
        if mode != "update":
            try:
                record = await _new_record(batch, handle, values)
                batch.fresh.add(handle.text, key, dump_values(record), index_text(key, record))
            except IdnestError as exc:
                prepared.new_error = exc
        batch.items[key] = prepared
    return batch


async def _new_record(
    batch: PreparedBatch, handle: Handle, values: list[HandleValue]
) -> list[HandleValue]:
    assert batch.tenant_id is not None and batch.principal is not None
    values = await validate_record(batch.tenant_id, values, batch.templates)
    if not any(v.type == "HS_ADMIN" for v in values):
        admin = default_admin_value(
            batch.principal.tenant_prefix or "",
            values[0].timestamp if values else now_timestamp(),
            taken={v.index for v in values},
        )
        values = [admin, *values]
    values = sorted(values, key=lambda v: v.index)
    check_record_size(values)
    return values


async def write(
    batch: PreparedBatch, *, idempotency: IdempotencyGuard | None = None
) -> list[BatchOutcome]:
    """Write a prepared batch in one transaction; one outcome per item, in order."""
    if batch.tenant_id is not None and batch.items:
        for attempt in range(3):
            try:
                await _write_batch(batch, idempotency)
                break
            except Exception as exc:
                # A concurrent writer created one of these handles after our look-up;
                # the whole transaction rolled back, so look again and redo the batch.
                if attempt == 2 or not db.is_unique_violation(exc):
                    raise
                for item in batch.items.values():
                    batch.outcomes[item.position] = None
    return [o if o is not None else IdnestError("not processed") for o in batch.outcomes]


async def _write_batch(batch: PreparedBatch, idempotency: IdempotencyGuard | None) -> None:
    assert batch.tenant_id is not None and batch.principal is not None
    tenant_id, principal = batch.tenant_id, batch.principal
    now = datetime.now(UTC)
    keys = list(batch.items)
    updates: list[dict[str, Any]] = []
    created: list[str] = []
    updated: list[list[Any]] = []
    written: list[str] = []
    async with tenant_transaction(tenant_id):
        if idempotency is not None:
            await idempotency.claim()
        # PostgreSQL inserts first (ON CONFLICT DO NOTHING) and looks up only the handles
        # that were not new: a fresh load is then one statement, not a look-up and an
        # insert. SQLite looks up first; its writer lock keeps the answer true.
        insert_first = isinstance(db.engine(), db.PostgresEngine) and batch.mode != "update"
        existing = {} if insert_first else await locked_records(tenant_id, keys)
        inserted: set[str] = set()
        if batch.mode != "update":
            fresh = batch.fresh.without(existing) if existing else batch.fresh
            inserted = await insert_new(tenant_id, fresh, now)
            # Creations only: checked against the write guards (a refusal rolls the
            # whole batch back) and counted once, per identifier, in this transaction.
            await quota.check_create(tenant_id, len(inserted))
            await usage.record_registrations(tenant_id, len(inserted))
        if insert_first:
            existing = await locked_records(tenant_id, [k for k in keys if k not in inserted])
        for key, item in batch.items.items():
            row = existing.get(key)
            try:
                if key in inserted:
                    result = WriteResult(item.handle.text, True, 1)
                    created.append(result.handle)
                elif row is None:
                    if batch.mode == "update":
                        raise HandleNotFound(
                            f"handle {item.handle.text} does not exist", handle=item.handle.text
                        )
                    # Not inserted and not there: it failed its checks as a new record,
                    # or it was deleted between our insert and our look-up.
                    raise item.new_error or HandleNotFound(
                        f"handle {item.handle.text} changed during the write; send it again",
                        handle=item.handle.text,
                    )
                else:
                    if batch.mode == "create":
                        raise HandleAlreadyExists(
                            f"handle {row['handle']} already exists", handle=row["handle"]
                        )
                    merged = merge_values(
                        load_values(row["values"]), item.values, None, overwrite=True
                    )
                    merged = await validate_record(tenant_id, merged, batch.templates)
                    check_record_size(merged)
                    result = WriteResult(row["handle"], False, row["version"] + 1)
                    updates.append(
                        {
                            "id": row["id"],
                            "values": dump_values(merged),
                            "search_text": index_text(key, merged),
                            "version": result.version,
                        }
                    )
                    updated.append([result.handle, result.version])
            except IdnestError as exc:
                exc.handle = exc.handle or item.handle.text
                batch.outcomes[item.position] = exc
                continue
            batch.outcomes[item.position] = result
            written.append(key)
        await update_records(updates, now)
        if written:
            await _record_batch(principal, tenant_id, created, updated)
        if idempotency is not None:
            await idempotency.complete([outcome_json(o) for o in batch.outcomes])
    if written:
        await get_bus().publish(*(f"rec:{k}" for k in written))


async def _record_batch(
    principal: Principal, tenant_id: int, created: list[str], updated: list[list[Any]]
) -> None:
    """One audit row and one outbox row for a whole written batch, in its transaction."""
    await audit.record(
        actor=principal.actor,
        action="identifier.batch",
        target=principal.tenant_prefix or "",
        tenant_id=tenant_id,
        detail={"created": created, "updated": updated},
    )
    items = [{"handle": h, "op": OP_ADD} for h in created]
    items += [{"handle": h, "op": OP_MODIFY} for h, _v in updated]
    await outbox.enqueue("upstream.identifier", {"items": items}, tenant_id=tenant_id)


def outcome_json(o: BatchOutcome | None) -> dict[str, Any]:
    if isinstance(o, WriteResult):
        return {"handle": o.handle, "created": o.created, "version": o.version}
    if o is None:
        return {"error": "not processed", "rc": 2}
    return {"handle": o.handle, "error": o.detail, "rc": o.rc, "title": o.title}
