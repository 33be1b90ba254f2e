"""Registration: create, replace, update and delete identifiers and their values.

This is the one write path for identifiers. Each write runs in one transaction that
writes the record, an audit row and an outbox row (for the top-level node sync), then
publishes the invalidation so every resolver drops its cached copy. Permission checks
live here too, so the REST API, the wire protocol and the portal cannot disagree.
``put_records`` is the same path set-wise (SNMS batches, bulk jobs). Records declaring a
metadata template at index 1001 are validated against it (``tenants.registry.templates``);
an optional idempotency guard is claimed and completed inside the write's transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from piccolo.columns.combination import WhereRaw

from core import audit, db
from core.auth import Principal
from core.bus import get_bus
from core.errors import (
    AuthenticationNeeded,
    HandleAlreadyExists,
    HandleNotFound,
    IdnestError,
    InsufficientPermissions,
    InvalidValue,
    PrefixNotServed,
    ValueAlreadyExists,
    ValuesNotFound,
)
from core.identifiers import Handle, fold, is_under, parse_handle
from core.outbox import OP_ADD, OP_DELETE, OP_MODIFY, enqueue
from core.settings import get_settings
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
from tenants.tables import Identifier, Tenant

MAX_VALUES_PER_RECORD = 1000


@dataclass(frozen=True, slots=True)
class WriteResult:
    handle: str
    created: bool
    version: int


class IdempotencyGuard(Protocol):
    """An Idempotency-Key, claimed and completed inside the write's own transaction, so
    a request is either answered and remembered, or neither (tenants.registry)."""

    async def claim(self) -> None:
        """Claim the key, or raise to replay the earlier identical request's answer."""

    async def complete(self, response: Any) -> None: ...


def check_served(handle: Handle) -> None:
    node = get_settings().node_prefix
    if not is_under(handle.prefix, node):
        raise PrefixNotServed(
            f"prefix {handle.prefix} is not served here; this node serves {node}.*",
            handle=handle.text,
        )


def _require(principal: Principal | None, scope: str, handle: Handle) -> Principal:
    if principal is None:
        raise AuthenticationNeeded(
            "this operation needs credentials: an API key (Authorization: Bearer) "
            "or HTTP Basic 300:{prefix}/{user}",
            handle=handle.text,
        )
    if principal.tenant_prefix is None or not is_under(handle.prefix, principal.tenant_prefix):
        raise InsufficientPermissions(
            f"these credentials act for {principal.tenant_prefix or 'no tenant'}, "
            f"not for {handle.prefix}",
            handle=handle.text,
        )
    if not principal.can(scope):
        raise InsufficientPermissions(
            f"these credentials lack the {scope!r} scope", handle=handle.text
        )
    return principal


async def _active_tenant(principal: Principal, handle: Handle) -> int:
    row = await Tenant.select(Tenant.status).where(Tenant.id == principal.tenant_id).first().run()
    if row is None or row["status"] != "active":
        status = row["status"] if row else "gone"
        raise InsufficientPermissions(
            f"tenant {principal.tenant_prefix} is {status}; it cannot register identifiers",
            handle=handle.text,
        )
    assert principal.tenant_id is not None
    return principal.tenant_id


async def _load_for_update(tenant_id: int, key: str) -> dict[str, Any] | None:
    query = Identifier.select(
        Identifier.id, Identifier.handle, Identifier.values, Identifier.version
    ).where((Identifier.tenant == tenant_id) & (Identifier.handle_key == key))
    if isinstance(db.engine(), db.PostgresEngine):
        query = query.lock_rows("UPDATE")
    return await query.first().run()


def _merge(
    existing: list[HandleValue],
    body: list[HandleValue],
    indices: frozenset[int] | None,
    *,
    overwrite: bool,
) -> list[HandleValue]:
    if indices is None:
        # Whole-record replace. Keep the admin values if the body brings none, so a
        # replace can never lock the tenant out of its own record.
        if not any(v.type == "HS_ADMIN" for v in body):
            body = [v for v in existing if v.type == "HS_ADMIN"] + body
        return sorted(body, key=lambda v: v.index)
    current = {v.index: v for v in existing}
    for v in body:
        if v.index in current and not overwrite:
            raise ValueAlreadyExists(f"a value with index {v.index} already exists")
        current[v.index] = v
    return sorted(current.values(), key=lambda v: v.index)


def _select_indices(
    body: list[HandleValue], indices: list[int] | None, various: bool
) -> frozenset[int] | None:
    if various:
        return frozenset(v.index for v in body)
    if not indices:
        return None
    wanted = frozenset(indices)
    in_body = {v.index for v in body}
    extra = in_body - wanted
    if extra:
        raise InvalidValue(
            f"the body has index {min(extra)}, which is not among the ?index= parameters",
            field="index",
        )
    missing = wanted - in_body
    if missing:
        raise InvalidValue(
            f"?index={min(missing)} was given but the body has no value with that index",
            field="index",
        )
    return wanted


async def put_record(
    principal: Principal | None,
    handle_text: str,
    body: Any,
    *,
    overwrite: bool = True,
    indices: list[int] | None = None,
    index_various: bool = False,
    mint_suffix: bool = False,
    idempotency: IdempotencyGuard | None = None,
    must_exist: bool = False,
    modify_only: bool = False,
) -> WriteResult:
    """Create or replace a record (Handle.net ``PUT /api/handles/{handle}``).

    A record that declares a template at index 1001 is validated against it.
    ``must_exist`` (wire ADD_VALUE/MODIFY_VALUE): HandleNotFound instead of creating.
    ``modify_only`` (wire MODIFY_VALUE): every index in the body must already exist,
    else ValuesNotFound.
    """
    if mint_suffix:
        base = parse_handle(handle_text.rstrip("/") + "/", allow_empty_suffix=True)
        if base.suffix:
            raise InvalidValue(
                "mintNewSuffix=true needs a handle that ends in '/', e.g. 88.100.7/",
                field="handle",
            )
        handle = Handle(base.prefix, uuid.uuid4().hex.upper())
    else:
        handle = parse_handle(handle_text)
    check_served(handle)
    principal = _require(principal, "write", handle)
    values = parse_values(body, timestamp=now_timestamp())
    wanted = _select_indices(values, indices, index_various)
    tenant_id = await _active_tenant(principal, handle)
    key = handle.key
    now = datetime.now(UTC)
    async with db.write_transaction():
        if idempotency is not None:
            await idempotency.claim()
        row = await _load_for_update(tenant_id, key)
        if row is None and (must_exist or modify_only):
            raise HandleNotFound(f"handle {handle.text} does not exist", handle=handle.text)
        if row is not None and modify_only:
            absent = {v.index for v in values} - {v.index for v in load_values(row["values"])}
            if absent:
                raise ValuesNotFound(
                    f"handle {row['handle']} has no value with index {min(absent)}",
                    handle=row["handle"],
                )
        if row is None:
            values = await validate_record(tenant_id, values)
            if not any(v.type == "HS_ADMIN" for v in values):
                values = [
                    default_admin_value(
                        principal.tenant_prefix or "",
                        values[0].timestamp if values else now_timestamp(),
                        taken={v.index for v in values},
                    ),
                    *values,
                ]
            values = sorted(values, key=lambda v: v.index)
            _check_size(values)
            await Identifier.insert(
                Identifier(
                    tenant=tenant_id,
                    handle=handle.text,
                    handle_key=key,
                    values=dump_values(values),
                    created_at=now,
                    updated_at=now,
                    version=1,
                )
            ).run()
            result = WriteResult(handle.text, True, 1)
            op = OP_ADD
        else:
            if not overwrite and wanted is None:
                raise HandleAlreadyExists(
                    f"handle {row['handle']} already exists", handle=row["handle"]
                )
            merged = _merge(load_values(row["values"]), values, wanted, overwrite=overwrite)
            merged = await validate_record(tenant_id, merged)
            _check_size(merged)
            version = row["version"] + 1
            await (
                Identifier.update(
                    {
                        Identifier.values: dump_values(merged),
                        Identifier.updated_at: now,
                        Identifier.version: version,
                    }
                )
                .where(Identifier.id == row["id"])
                .run()
            )
            result = WriteResult(row["handle"], False, version)
            op = OP_MODIFY
        await audit.record(
            actor=principal.actor,
            action="identifier.create" if result.created else "identifier.update",
            target=result.handle,
            tenant_id=tenant_id,
            detail={"indices": sorted(wanted) if wanted else None, "version": result.version},
        )
        await enqueue(
            "upstream.identifier", {"handle": result.handle, "op": op}, tenant_id=tenant_id
        )
        if idempotency is not None:
            await idempotency.complete(
                {"handle": result.handle, "created": result.created, "version": result.version}
            )
    await get_bus().publish(f"rec:{key}")
    return result


def _check_size(values: list[HandleValue]) -> None:
    if len(values) > MAX_VALUES_PER_RECORD:
        raise InvalidValue(
            f"a record holds at most {MAX_VALUES_PER_RECORD} values, this one would have "
            f"{len(values)}",
            field="values",
        )


async def delete_record(
    principal: Principal | None, handle_text: str, *, indices: list[int] | None = None
) -> WriteResult:
    """Delete a whole record, or only the values with the given indices."""
    handle = parse_handle(handle_text)
    check_served(handle)
    principal = _require(principal, "write", handle)
    tenant_id = await _active_tenant(principal, handle)
    key = handle.key
    async with db.write_transaction():
        row = await _load_for_update(tenant_id, key)
        if row is None:
            raise HandleNotFound(f"handle {handle.text} does not exist", handle=handle.text)
        if indices:
            existing = load_values(row["values"])
            present = {v.index for v in existing}
            missing = sorted(set(indices) - present)
            if missing:
                raise ValuesNotFound(
                    f"handle {row['handle']} has no value with index {missing[0]}",
                    handle=row["handle"],
                )
            kept = [v for v in existing if v.index not in set(indices)]
            version = row["version"] + 1
            await (
                Identifier.update(
                    {
                        Identifier.values: dump_values(kept),
                        Identifier.updated_at: datetime.now(UTC),
                        Identifier.version: version,
                    }
                )
                .where(Identifier.id == row["id"])
                .run()
            )
            op, action = OP_MODIFY, "identifier.remove_values"
        else:
            await Identifier.delete().where(Identifier.id == row["id"]).run()
            version, op, action = row["version"], OP_DELETE, "identifier.delete"
        await audit.record(
            actor=principal.actor,
            action=action,
            target=row["handle"],
            tenant_id=tenant_id,
            detail={"indices": sorted(indices) if indices else None},
        )
        await enqueue(
            "upstream.identifier", {"handle": row["handle"], "op": op}, tenant_id=tenant_id
        )
    await get_bus().publish(f"rec:{key}")
    return WriteResult(row["handle"], False, version)


@dataclass(frozen=True, slots=True)
class HandlePage:
    prefix: str
    total: int
    handles: list[str]


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def list_handles(
    principal: Principal | None, prefix: str, *, page: int = 0, page_size: int = 1000
) -> HandlePage:
    """Handles under one prefix of the caller's tenant, zero-based pages."""
    probe = Handle(prefix, "")
    check_served(probe)
    principal = _require(principal, "read", probe)
    assert principal.tenant_id is not None
    pattern = _like_escape(fold(prefix)) + "/%"
    # An explicit ESCAPE: prefixes may hold "_", which LIKE would take as a wildcard.
    where = (Identifier.tenant == principal.tenant_id) & WhereRaw(
        "handle_key LIKE {} ESCAPE '\\'", pattern
    )
    total = await Identifier.count().where(where).run()
    handles: list[str] = []
    if page_size > 0:
        rows = (
            await Identifier.select(Identifier.handle)
            .where(where)
            .order_by(Identifier.handle_key)
            .offset(page * page_size)
            .limit(page_size)
            .run()
        )
        handles = [r["handle"] for r in rows]
    return HandlePage(prefix, total, handles)


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
