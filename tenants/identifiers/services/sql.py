"""Set-wise SQL for identifiers, without building a Piccolo object per row.

Piccolo's ``insert(*rows)`` spends ~100 µs per row building objects and SQL text; at a
million rows that is the whole time budget. On PostgreSQL one ``INSERT ... SELECT FROM
unnest($1::text[], ...)`` sends each column as one array parameter instead, and the
columns every row shares (tenant, times, version) as single parameters. Elsewhere
(SQLite, small nodes) Piccolo's queries are used as they are.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core import db


@dataclass(slots=True)
class NewRecords:
    """Version 1 of records to insert, column by column, as they are sent to PostgreSQL."""

    handles: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    values: list[str] = field(default_factory=list)  # stored JSON
    search_texts: list[str] = field(default_factory=list)

    def add(self, handle: str, key: str, values: str, search_text: str) -> None:
        self.handles.append(handle)
        self.keys.append(key)
        self.values.append(values)
        self.search_texts.append(search_text)

    def without(self, taken: Container[str]) -> NewRecords:
        kept = NewRecords()
        for row in zip(self.handles, self.keys, self.values, self.search_texts, strict=True):
            if row[1] not in taken:
                kept.add(*row)
        return kept


async def insert_new(tenant_id: int, records: NewRecords, now: datetime) -> set[str]:
    """Insert version 1 of records whose handle is not taken; the handle keys inserted.

    On PostgreSQL a taken handle is skipped (ON CONFLICT DO NOTHING), so the caller
    needs no look-up beforehand. Elsewhere the caller has already left taken handles
    out (SQLite's writer lock keeps that true) and every record is inserted.
    """
    from tenants.identifiers.tables import Identifier

    if not records.keys:
        return set()
    if not isinstance(db.engine(), db.PostgresEngine):
        await Identifier.insert(
            *(
                Identifier(
                    tenant_id=tenant_id,
                    handle=handle,
                    handle_key=key,
                    values=values,
                    search_text=search_text,
                    created_at=now,
                    updated_at=now,
                    version=1,
                )
                for handle, key, values, search_text in zip(
                    records.handles, records.keys, records.values, records.search_texts, strict=True
                )
            )
        ).run()
        return set(records.keys)
    # One row holding an array of the inserted keys: a row per key would cost more to
    # receive than the insert costs to run.
    inserted = await db.transaction_connection().fetchval(
        "WITH ins AS (INSERT INTO identifiers "
        '(tenant_id, created_at, updated_at, version, handle, handle_key, "values", search_text) '
        "SELECT $1, $2, $2, 1, h, k, v, s "
        "FROM unnest($3::text[], $4::text[], $5::text[], $6::text[]) AS t(h, k, v, s) "
        "ON CONFLICT (tenant_id, handle_key) DO NOTHING RETURNING handle_key) "
        "SELECT coalesce(array_agg(handle_key), '{}') FROM ins",
        tenant_id,
        now,
        records.handles,
        records.keys,
        records.values,
        records.search_texts,
    )
    return set(inserted)


async def locked_records(tenant_id: int, keys: list[str]) -> dict[str, dict[str, Any]]:
    """The tenant's existing identifiers among ``keys`` (handle keys), locked for update
    on PostgreSQL (SQLite's writer lock already serialises writers), by handle key."""
    from tenants.identifiers.tables import Identifier

    if not keys:
        return {}
    if not isinstance(db.engine(), db.PostgresEngine):
        rows = (
            await Identifier.select(
                Identifier.id,
                Identifier.handle,
                Identifier.handle_key,
                Identifier.values,
                Identifier.version,
            )
            .where((Identifier.tenant_id == tenant_id) & Identifier.handle_key.is_in(keys))
            .run()
        )
        return {r["handle_key"]: r for r in rows}
    # A plan cached while the table was small scans it whole for every batch, which
    # makes a million-row load quadratic; plan each look-up afresh.
    await db.engine().run_ddl("SET LOCAL plan_cache_mode = force_custom_plan")
    rows = await Identifier.raw(
        'SELECT id, handle, handle_key, "values", version FROM identifiers '
        "WHERE tenant_id = {} AND handle_key = ANY({}::text[]) FOR UPDATE",
        tenant_id,
        keys,
    ).run()
    return {r["handle_key"]: r for r in rows}


async def update_records(rows: list[dict[str, Any]], now: datetime) -> None:
    """Set ``values``, ``search_text`` and ``version`` of many identifiers (by id) in one
    statement."""
    from tenants.identifiers.tables import Identifier

    if not rows:
        return
    if not isinstance(db.engine(), db.PostgresEngine):
        for r in rows:
            await (
                Identifier.update(
                    {
                        Identifier.values: r["values"],
                        Identifier.search_text: r["search_text"],
                        Identifier.updated_at: now,
                        Identifier.version: r["version"],
                    }
                )
                .where(Identifier.id == r["id"])
                .run()
            )
        return
    await Identifier.raw(
        'UPDATE identifiers SET "values" = u.v, search_text = u.s, version = u.n, '
        "updated_at = {} FROM unnest({}::int[], {}::text[], {}::text[], {}::int[]) "
        "AS u(i, v, s, n) WHERE identifiers.id = u.i",
        now,
        [r["id"] for r in rows],
        [r["values"] for r in rows],
        [r["search_text"] for r in rows],
        [r["version"] for r in rows],
    ).run()
