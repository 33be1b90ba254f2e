"""The write side of the identifier lifecycle (core/lifecycle.py): status and validity.

One change runs like a record write (services/records.py): in one transaction it
updates the row (and its version), appends an audit entry ``identifier.status`` to the
hash chain and enqueues the master data as a modify operation (op 3) carrying the new
status, then publishes ``rec:{key}`` so every resolver drops its copy and the next
resolution answers the new status. ``revoked`` is final: a revoked identifier is never
brought back (an owner who revoked by mistake registers a new one).

A change names only what it changes: ``status`` (with ``reason``), ``validFrom``,
``validUntil``; an explicit null clears an edge of the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core import audit, db, lifecycle
from core.auth import Principal
from core.bus import get_bus
from core.errors import Conflict, HandleNotFound, InvalidValue
from core.identifiers import Handle, parse_handle
from core.outbox import OP_MODIFY
from core.tenancy import tenant_transaction
from core.values import load_values
from tenants.identifiers.services.records import active_tenant, check_served, require_scope
from tenants.identifiers.services.upstream_data import send_master_data
from tenants.identifiers.tables import Identifier

FIELDS = ("status", "reason", "validFrom", "validUntil")


@dataclass(frozen=True, slots=True)
class Change:
    """A validated change: None for what stays as it is (``clear_*``: set to null)."""

    status: str | None = None
    reason: str | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    set_from: bool = False
    set_until: bool = False


def parse_change(body: Any) -> Change:
    """A change as a client sent it; InvalidValue naming the field otherwise."""
    if not isinstance(body, dict):
        raise InvalidValue(
            'the body must be an object, e.g. {"status": "revoked", "reason": "..."}',
            field="status",
        )
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise InvalidValue(
            f"unknown field {unknown[0]!r}; a change has {', '.join(FIELDS)}", field=unknown[0]
        )
    if not any(f in body for f in ("status", "validFrom", "validUntil")):
        raise InvalidValue("nothing to change: give status, validFrom or validUntil",
                           field="status")  # fmt: skip
    status = lifecycle.parse_status(body["status"]) if "status" in body else None
    reason = lifecycle.parse_reason(body.get("reason"))
    if "reason" in body and status is None:
        raise InvalidValue("a reason goes with a status", field="reason")
    valid_from = lifecycle.parse_instant(body.get("validFrom"), "validFrom", end_of_day=False)
    valid_until = lifecycle.parse_instant(body.get("validUntil"), "validUntil", end_of_day=True)
    return Change(
        status=status,
        reason=reason if status is not None else None,
        valid_from=valid_from,
        valid_until=valid_until,
        set_from="validFrom" in body,
        set_until="validUntil" in body,
    )


def describe(row: dict[str, Any]) -> dict[str, Any]:
    """The lifecycle of a stored row as the API and console show it, with its state now."""
    state = lifecycle.build(row)
    now = state.state() if state is not None else lifecycle.ACTIVE
    since = row.get("status_since")
    return {
        "handle": row["handle"],
        "status": row.get("status") or lifecycle.ACTIVE,
        "state": now,
        "since": since.astimezone(UTC).isoformat() if since else None,
        "reason": row.get("status_reason") or None,
        "validFrom": _iso(row.get("valid_from")),
        "validUntil": _iso(row.get("valid_until")),
        "version": row.get("version"),
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


_COLUMNS = (
    Identifier.id, Identifier.handle, Identifier.values, Identifier.version,
    Identifier.created_at, Identifier.status, Identifier.status_since,
    Identifier.status_reason, Identifier.valid_from, Identifier.valid_until,
)  # fmt: skip


async def _row(tenant_id: int, key: str, *, lock: bool) -> dict[str, Any] | None:
    i = Identifier
    query = i.select(*_COLUMNS).where((i.tenant_id == tenant_id) & (i.handle_key == key))
    if lock and isinstance(db.engine(), db.PostgresEngine):
        query = query.lock_rows("UPDATE")
    return await query.first().run()


async def locked_row(tenant_id: int, handle: Handle) -> dict[str, Any]:
    """The row to change, locked for the transaction; HandleNotFound if there is none."""
    row = await _row(tenant_id, handle.key, lock=True)
    if row is None:
        raise HandleNotFound(f"handle {handle.text} does not exist", handle=handle.text)
    return row


async def get_lifecycle(principal: Principal | None, handle_text: str) -> dict[str, Any]:
    """The owner's view of one identifier's status and window."""
    handle = parse_handle(handle_text)
    check_served(handle)
    principal = require_scope(principal, "read", handle)
    assert principal.tenant_id is not None
    async with tenant_transaction(principal.tenant_id, write=False):
        row = await _row(principal.tenant_id, handle.key, lock=False)
    if row is None:
        raise HandleNotFound(f"handle {handle.text} does not exist", handle=handle.text)
    return describe(row)


async def set_lifecycle(principal: Principal | None, handle_text: str, change: Change,
                        *, via: str = "api") -> dict[str, Any]:  # fmt: skip
    """Apply a change to one identifier of the caller's tenant; the new lifecycle."""
    handle = parse_handle(handle_text)
    check_served(handle)
    principal = require_scope(principal, "write", handle)
    tenant_id = await active_tenant(principal, handle)
    async with tenant_transaction(tenant_id):
        row = await locked_row(tenant_id, handle)
        new = await apply_change(tenant_id, row, change, actor=principal.actor, via=via)
    await get_bus().publish(f"rec:{handle.key}")
    return new


async def apply_change(tenant_id: int, row: dict[str, Any], change: Change, *, actor: str,
                       via: str) -> dict[str, Any]:  # fmt: skip
    """Inside the caller's tenant transaction, with the row locked: update, audit, and
    enqueue the upstream modify. The caller publishes the invalidation after commit."""
    before = describe(row)
    if before["status"] == lifecycle.REVOKED and (
        (change.status or lifecycle.REVOKED) != lifecycle.REVOKED
        or change.set_from
        or change.set_until
    ):
        raise Conflict(f"identifier {row['handle']} was revoked; revocation is final",
                       handle=row["handle"])  # fmt: skip
    valid_from = change.valid_from if change.set_from else row["valid_from"]
    valid_until = change.valid_until if change.set_until else row["valid_until"]
    lifecycle.check_window(valid_from, valid_until)
    now = datetime.now(UTC)
    changes: dict[Any, Any] = {
        Identifier.valid_from: valid_from,
        Identifier.valid_until: valid_until,
        Identifier.updated_at: now,
        Identifier.version: row["version"] + 1,
        # This change's own message tells the state now (services/window_edges.py).
        Identifier.window_reported_at: now,
    }
    if change.status is not None:
        changes[Identifier.status] = change.status
        changes[Identifier.status_reason] = change.reason or ""
        if change.status != before["status"] or row.get("status_since") is None:
            changes[Identifier.status_since] = now
    mine = (Identifier.id == row["id"]) & (Identifier.tenant_id == tenant_id)
    await Identifier.update(changes).where(mine).run()
    after_row = {**row, **{col._meta.name: v for col, v in changes.items()}}
    after = describe(after_row)
    await audit.record(
        actor=actor,
        action="identifier.status",
        target=row["handle"],
        tenant_id=tenant_id,
        detail={"via": via, "before": _brief(before), "after": _brief(after)},
    )
    await send_master_data(
        tenant_id, row["handle"], OP_MODIFY, load_values(row["values"]), row["created_at"],
        lifecycle=_brief(after),
    )  # fmt: skip
    return after


def _brief(view: dict[str, Any]) -> dict[str, Any]:
    return {k: view[k] for k in ("status", "reason", "validFrom", "validUntil", "since")}


class WithLifecycle:
    """A PUT that also names a status or window (``{"values": [...], "validFrom": ...}``):
    rides in ``put_record``'s transaction as its idempotency guard and, once the record
    is written, applies the change there, so a record created with a future validFrom is
    never resolvable before it. The request's own Idempotency-Key guard, if any, wraps."""

    def __init__(self, inner: Any, change: Change, tenant_id: int, actor: str) -> None:
        self.inner, self.change, self.tenant_id, self.actor = inner, change, tenant_id, actor

    async def claim(self) -> None:
        if self.inner is not None:
            await self.inner.claim()

    async def complete(self, response: Any) -> None:
        row = await locked_row(self.tenant_id, parse_handle(response["handle"]))
        await apply_change(self.tenant_id, row, self.change, actor=self.actor, via="api")
        if self.inner is not None:
            await self.inner.complete(response)


def split_put_body(body: Any) -> tuple[Any, Change | None]:
    """A PUT body without its lifecycle fields, and the change they make (validated
    before anything is written), or None when it names none."""
    if not isinstance(body, dict) or "values" not in body:
        return body, None
    named = {k: body[k] for k in FIELDS if k in body}
    if not named:
        return body, None
    rest = {k: v for k, v in body.items() if k not in FIELDS}
    return rest, parse_change(named)
