"""Registration: create, replace, update and delete identifiers and their values.

This is the one write path for identifiers. Each write runs in one transaction that
writes the record, an audit row and an outbox row (for the top-level node sync), then
publishes the invalidation so every resolver drops its cached copy. Permission checks
live here too, so the REST API, the wire protocol and the portal cannot disagree.
``tenants.identifiers.services.batch`` is the same path set-wise (SNMS batches, bulk
jobs). Records declaring a template at index 1001 are validated against it. A creation
passes the write guards (core/quota.py) and is counted (core/usage.py) in its transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

from piccolo.columns.combination import WhereRaw

from core import audit, db, quota, usage
from core.auth import Principal
from core.bus import get_bus
from core.errors import (
    AuthenticationNeeded,
    HandleAlreadyExists,
    HandleNotFound,
    InsufficientPermissions,
    InvalidValue,
    PrefixNotServed,
    ValueAlreadyExists,
    ValuesNotFound,
)
from core.identifiers import Handle, check_new_handle, fold, is_under, parse_handle
from core.outbox import OP_ADD, OP_DELETE, OP_MODIFY
from core.settings import get_settings
from core.tenancy import tenant_transaction
from core.values import (
    HandleValue,
    default_admin_value,
    dump_values,
    load_values,
    now_timestamp,
    parse_values,
)
from tenants.accounts.tables import Tenant
from tenants.identifiers.services.search import index_text
from tenants.identifiers.services.upstream_data import send_master_data
from tenants.identifiers.tables import Identifier
from tenants.templates.services.validation import validate_record

MAX_VALUES_PER_RECORD = 1000


class WriteResult(NamedTuple):  # a NamedTuple: a bulk load makes a million of them
    handle: str
    created: bool
    version: int


class IdempotencyGuard(Protocol):
    """An Idempotency-Key, claimed and completed inside the write's own transaction, so
    a request is either answered and remembered, or neither (tenants.identifiers)."""

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


def require_scope(principal: Principal | None, scope: str, handle: Handle) -> Principal:
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


async def active_tenant(principal: Principal, handle: Handle) -> int:
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
    i = Identifier
    query = i.select(i.id, i.handle, i.values, i.version, i.created_at).where(
        (i.tenant_id == tenant_id) & (i.handle_key == key)
    )
    if isinstance(db.engine(), db.PostgresEngine):
        query = query.lock_rows("UPDATE")
    return await query.first().run()


def merge_values(
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
    handle = _target_handle(handle_text, mint_suffix)
    check_served(handle)
    principal = require_scope(principal, "write", handle)
    values = parse_values(body, timestamp=now_timestamp())
    wanted = _select_indices(values, indices, index_various)
    tenant_id = await active_tenant(principal, handle)
    key = handle.key
    async with tenant_transaction(tenant_id):
        if idempotency is not None:
            await idempotency.claim()
        row = await _load_for_update(tenant_id, key)
        _check_existing(row, handle, values, must_exist=must_exist, modify_only=modify_only)
        if row is None:
            result = await _insert_record(principal, tenant_id, handle, values)
            op, state, created = OP_ADD, values, None
        else:
            if not overwrite and wanted is None:
                raise HandleAlreadyExists(
                    f"handle {row['handle']} already exists", handle=row["handle"]
                )
            merged = merge_values(load_values(row["values"]), values, wanted, overwrite=overwrite)
            result = await _replace_values(tenant_id, key, row, merged)
            op, state, created = OP_MODIFY, merged, row["created_at"]
        await audit.record(
            actor=principal.actor,
            action="identifier.create" if result.created else "identifier.update",
            target=result.handle,
            tenant_id=tenant_id,
            detail={"indices": sorted(wanted) if wanted else None, "version": result.version},
        )
        await send_master_data(tenant_id, result.handle, op, state, created)
        if idempotency is not None:
            await idempotency.complete(
                {"handle": result.handle, "created": result.created, "version": result.version}
            )
    await get_bus().publish(f"rec:{key}")
    return result


def _target_handle(handle_text: str, mint_suffix: bool) -> Handle:
    """The handle written: as given, or under its prefix with a new random suffix."""
    if not mint_suffix:
        return check_new_handle(parse_handle(handle_text))
    base = parse_handle(handle_text.rstrip("/") + "/", allow_empty_suffix=True)
    if base.suffix:
        raise InvalidValue(
            "mintNewSuffix=true needs a handle that ends in '/', e.g. 88.100.7/", field="handle"
        )
    return Handle(base.prefix, uuid.uuid4().hex.upper())


def _check_existing(
    row: Any, handle: Handle, values: list[HandleValue], *, must_exist: bool, modify_only: bool
) -> None:
    if row is None and (must_exist or modify_only):
        raise HandleNotFound(f"handle {handle.text} does not exist", handle=handle.text)
    if row is not None and modify_only:
        absent = {v.index for v in values} - {v.index for v in load_values(row["values"])}
        if absent:
            raise ValuesNotFound(
                f"handle {row['handle']} has no value with index {min(absent)}",
                handle=row["handle"],
            )


async def _insert_record(
    principal: Principal, tenant_id: int, handle: Handle, values: list[HandleValue]
) -> WriteResult:
    """A new record (validated; a default HS_ADMIN if none), past the write guards."""
    await quota.check_create(tenant_id, 1)
    values = await validate_record(tenant_id, values)
    if not any(v.type == "HS_ADMIN" for v in values):
        stamp = values[0].timestamp if values else now_timestamp()
        taken = {v.index for v in values}
        admin = default_admin_value(principal.tenant_prefix or "", stamp, taken=taken)
        values = [admin, *values]
    values = sorted(values, key=lambda v: v.index)
    check_record_size(values)
    now = datetime.now(UTC)
    await Identifier.insert(
        Identifier(
            tenant_id=tenant_id,
            handle=handle.text,
            handle_key=handle.key,
            values=dump_values(values),
            search_text=index_text(handle.key, values),
            created_at=now,
            updated_at=now,
            version=1,
        )
    ).run()
    await usage.record_registrations(tenant_id, 1)
    return WriteResult(handle.text, True, 1)


async def _replace_values(
    tenant_id: int, key: str, row: Any, merged: list[HandleValue]
) -> WriteResult:
    merged = await validate_record(tenant_id, merged)
    check_record_size(merged)
    version = row["version"] + 1
    changes: dict[Any, Any] = {
        Identifier.values: dump_values(merged),
        Identifier.search_text: index_text(key, merged),
        Identifier.updated_at: datetime.now(UTC),
        Identifier.version: version,
    }
    # The tenant as well as the id: the write is held to its tenant on SQLite too.
    mine = (Identifier.id == row["id"]) & (Identifier.tenant_id == tenant_id)
    await Identifier.update(changes).where(mine).run()
    return WriteResult(row["handle"], False, version)


def check_record_size(values: list[HandleValue]) -> None:
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
    principal = require_scope(principal, "write", handle)
    tenant_id = await active_tenant(principal, handle)
    key = handle.key
    async with tenant_transaction(tenant_id):
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
                        Identifier.search_text: index_text(key, kept),
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
        state = kept if op == OP_MODIFY else []
        await send_master_data(tenant_id, row["handle"], op, state, row["created_at"])
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
    principal = require_scope(principal, "read", probe)
    assert principal.tenant_id is not None
    pattern = _like_escape(fold(prefix)) + "/%"
    # An explicit ESCAPE: prefixes may hold "_", which LIKE would take as a wildcard.
    where = (Identifier.tenant_id == principal.tenant_id) & WhereRaw(
        "handle_key LIKE {} ESCAPE '\\'", pattern
    )
    handles: list[str] = []
    async with tenant_transaction(principal.tenant_id, write=False):
        total = await Identifier.count().where(where).run()
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
