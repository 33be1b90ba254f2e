"""Tell the top-level node when an identifier's validity window opens or closes.

A window's edges pass without a write: resolution derives "expired" and "not yet valid"
from ``valid_from``/``valid_until`` at answer time (core/lifecycle.py). The identifier's
master data upstream (REFERENCE §4, op 3 modify) must still learn of it, so this job
finds every edge that passed since the identifier's ``window_reported_at`` and queues
the modify with the state it now has, in one transaction with moving
``window_reported_at`` to now: a run that dies leaves both undone, and the next run
sends each edge once. A lifecycle change (services/lifecycle.py) sets
``window_reported_at`` to its own time, since its own message told the state then.
A revoked identifier's edges are not sent: revocation is final and was told.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core import lifecycle
from core.outbox import OP_MODIFY
from core.tenancy import cross_tenant
from core.values import load_values
from tenants.identifiers.services.upstream_data import send_master_data
from tenants.identifiers.tables import Identifier

BATCH = 500


def _passed(after: datetime | None, moment: datetime | None, now: datetime) -> bool:
    return moment is not None and moment <= now and (after is None or moment > after)


def _edge(row: dict[str, Any], now: datetime) -> str | None:
    """The latest edge that passed since the last report: validUntil or validFrom."""
    after = row["window_reported_at"]
    if _passed(after, row["valid_until"], now):
        return "validUntil"
    # A window that opened before the record existed was told with the record.
    if _passed(after, row["valid_from"], now) and row["valid_from"] > row["created_at"]:
        return "validFrom"
    return None


async def report_passed_edges(now: datetime | None = None) -> int:
    """Queue one modify per identifier whose window edge passed; how many were queued."""
    now = now or datetime.now(UTC)
    i = Identifier
    unreported = i.window_reported_at.is_null()
    due = (i.status != lifecycle.REVOKED) & (
        ((i.valid_until <= now) & (unreported | (i.window_reported_at < i.valid_until)))
        | (
            (i.valid_from <= now)
            & (i.valid_from > i.created_at)
            & (unreported | (i.window_reported_at < i.valid_from))
        )
    )
    sent, last_id = 0, 0
    while True:
        async with cross_tenant("maintenance", write=True):
            rows = await (
                i.select(i.id, i.tenant_id, i.handle, i.values, i.created_at, i.status,
                         i.status_since, i.status_reason, i.valid_from, i.valid_until,
                         i.window_reported_at)
                .where(due & (i.id > last_id))
                .order_by(i.id)
                .limit(BATCH)
                .run()
            )  # fmt: skip
            for row in rows:
                edge = _edge(row, now)
                if edge is not None:
                    await _send(row, edge, now)
                    sent += 1
            if rows:
                await i.update({i.window_reported_at: now}).where(
                    i.id.is_in([r["id"] for r in rows])
                ).run()
        if len(rows) < BATCH:
            return sent
        last_id = rows[-1]["id"]


async def _send(row: dict[str, Any], edge: str, now: datetime) -> None:
    state = lifecycle.build(row)
    told = {
        "status": row["status"] or lifecycle.ACTIVE,
        "state": state.state(now.timestamp()) if state is not None else lifecycle.ACTIVE,
        "edge": edge,
        "reason": row["status_reason"] or None,
        "validFrom": _iso(row["valid_from"]),
        "validUntil": _iso(row["valid_until"]),
        "since": _iso(row["valid_until"] if edge == "validUntil" else row["valid_from"]),
    }
    values = load_values(row["values"])
    await send_master_data(
        row["tenant_id"], row["handle"], OP_MODIFY, values, row["created_at"], lifecycle=told
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None
