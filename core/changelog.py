"""The change log escrow reads: every insert, update and delete of an escrowed row.

Database triggers, generated from core/tenancy.py (``escrow_tables()``), write one
``escrow_changes`` row per changed row in the changing transaction itself. No write path
(a service, a bulk job, the SNMS API, erasure, a hand-run SQL fix) can forget it, and a
table added to the declaration later is logged without new code. A delete leaves its
tombstone here; the row itself is gone.

Commit order, which serial ids are not on PostgreSQL (a transaction that took id 10 may
commit after the one that took id 11): each change carries its transaction's id
(``pg_current_xact_id()``). A set reads in one REPEATABLE READ snapshot and takes the
changes with ``xid`` below the snapshot's ``xmin``: every such transaction has finished,
so no change below the mark can still appear. A transaction at or above it, committed
or not, is taken by the next set, whose rows are read as they are then. On SQLite
writers are serialised (``BEGIN IMMEDIATE``), so the change's id is commit order and the
mark is one past the highest id visible. docs/escrow.md has the argument in full.

``idnest migrate`` installs the triggers (``apply``), whenever the generated DDL differs
from what the database has (a fingerprint on PostgreSQL, the trigger names on SQLite).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from core.tenancy import CROSS_SETTING, escrow_tables

_INDEX = "CREATE INDEX IF NOT EXISTS escrow_changes_row ON escrow_changes (table_name, row_id)"
_XID = "pg_current_xact_id()::text::bigint"
# (trigger suffix, event, transition table clause, op)
_EVENTS = (
    ("ins", "INSERT", "NEW TABLE AS escrow_rows", "insert"),
    ("upd", "UPDATE", "NEW TABLE AS escrow_rows", "update"),
    ("del", "DELETE", "OLD TABLE AS escrow_rows", "delete"),
)


def _pg_ddl() -> list[str]:
    ddl = [_INDEX]
    for suffix, _event, _ref, op in _EVENTS:
        ddl.append(
            f"CREATE OR REPLACE FUNCTION idnest_escrow_{suffix}() RETURNS trigger "  # noqa: S608 - declared names
            "LANGUAGE plpgsql AS $$ BEGIN "
            "INSERT INTO escrow_changes (table_name, row_id, op, xid) "
            f"SELECT TG_TABLE_NAME, id, '{op}', {_XID} FROM escrow_rows; "
            "RETURN NULL; END $$"
        )
    for table in escrow_tables():
        for suffix, event, ref, _op in _EVENTS:
            # Statement-level with a transition table: one INSERT … SELECT per
            # statement, so a bulk write of 10,000 rows logs them in one step.
            ddl.append(
                f'CREATE TRIGGER idnest_escrow_{suffix} AFTER {event} ON "{table}" '
                f"REFERENCING {ref} FOR EACH STATEMENT EXECUTE FUNCTION idnest_escrow_{suffix}()"
            )
    return ddl


def fingerprint() -> str:
    return "idnest-escrow " + hashlib.sha256("\n".join(_pg_ddl()).encode()).hexdigest()[:16]


async def pg_current(conn: Any) -> bool:
    note = await conn.fetchval(
        "SELECT obj_description(oid, 'pg_proc') FROM pg_proc WHERE proname = 'idnest_escrow_ins'"
    )
    return bool(note == fingerprint())


async def pg_apply(conn: Any) -> None:
    """(Re)create the triggers in the caller's (the migration's) transaction."""
    old = await conn.fetch(
        "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "WHERE t.tgname LIKE 'idnest_escrow_%' AND NOT t.tgisinternal"
    )
    for row in old:
        await conn.execute(f'DROP TRIGGER {row["tgname"]} ON "{row["relname"]}"')
    for sql in _pg_ddl():
        await conn.execute(sql)
    await conn.execute(f"COMMENT ON FUNCTION idnest_escrow_ins() IS '{fingerprint()}'")


def _sqlite_triggers() -> dict[str, str]:
    out = {}
    for table in escrow_tables():
        for suffix, event, _ref, op in _EVENTS:
            ref = "OLD" if event == "DELETE" else "NEW"
            name = f"idnest_escrow1_{table}_{suffix}"
            out[name] = (
                f'CREATE TRIGGER {name} AFTER {event} ON "{table}" BEGIN '  # noqa: S608
                "INSERT INTO escrow_changes (table_name, row_id, op) "
                f"VALUES ('{table}', {ref}.id, '{op}'); END"
            )
    return out


def sqlite_apply(path: str) -> None:
    """Install the SQLite triggers if the set of them differs (under the migrate lock)."""
    import sqlite3

    want = _sqlite_triggers()
    with sqlite3.connect(path) as conn:
        have = {
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND name LIKE 'idnest_escrow%'"
            )
        }
        conn.execute(_INDEX)
        if have == set(want):
            return
        for name in have:
            conn.execute(f"DROP TRIGGER {name}")
        for sql in want.values():
            conn.execute(sql)


@dataclass
class Snapshot:
    """One connection in one transaction: a consistent view of every escrowed table.

    ``mark`` is the set's watermark: the changes below it are complete in this view.
    SQL is written with ``?`` placeholders; PostgreSQL's ``$n`` are put in here.
    """

    postgres: bool
    conn: Any
    mark: int = 0

    def _sql(self, sql: str) -> str:
        if not self.postgres:
            return sql
        parts = sql.split("?")
        return "".join(p + (f"${i}" if i < len(parts) else "") for i, p in enumerate(parts, 1))

    async def fetch(self, sql: str, *args: Any) -> list[Sequence[Any]]:
        if self.postgres:
            return list(await self.conn.fetch(self._sql(sql), *args))
        cursor = await self.conn.execute(sql, args)
        return list(await cursor.fetchall())

    async def execute(self, sql: str, *args: Any) -> None:
        if self.postgres:
            await self.conn.execute(self._sql(sql), *args)
        else:
            await self.conn.execute(sql, args)

    async def executemany(self, sql: str, rows: list[Sequence[Any]]) -> None:
        if self.postgres:
            await self.conn.executemany(self._sql(sql), rows)
        else:
            await self.conn.executemany(sql, rows)


@asynccontextmanager
async def snapshot(*, write: bool = False) -> AsyncIterator[Snapshot]:
    """A snapshot on the ``escrow`` cross-tenant path; ``write`` for a restore.

    Reads get REPEATABLE READ on PostgreSQL (every query sees the first one's snapshot)
    and a deferred transaction on SQLite (WAL: the first read fixes the view). A write
    takes SQLite's writer lock up front, as every writer here does.
    """
    from core.settings import get_settings

    settings = get_settings()
    url = settings.effective_database_url
    if url.startswith("sqlite:"):
        import aiosqlite

        from core.db import sqlite_path

        conn = await aiosqlite.connect(str(sqlite_path(url)), isolation_level=None,
                                       timeout=settings.sqlite_timeout)  # fmt: skip
        try:
            await conn.execute("PRAGMA foreign_keys = ON")
            await conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            snap = Snapshot(False, conn)
            row = await snap.fetch("SELECT coalesce(max(id), 0) + 1 FROM escrow_changes")
            snap.mark = int(row[0][0])
            yield snap
            await conn.execute("COMMIT")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
        finally:
            await conn.close()
        return
    import asyncpg

    pg = await asyncpg.connect(url)
    try:
        isolation = "read_committed" if write else "repeatable_read"
        async with pg.transaction(isolation=isolation, readonly=not write):
            await pg.execute("SELECT set_config($1, 'escrow', true)", CROSS_SETTING)
            mark = await pg.fetchval("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")
            yield Snapshot(True, pg, int(mark))
    finally:
        await pg.close()
