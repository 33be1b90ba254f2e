"""Set-wise inserts for an import, without a Piccolo object per row.

Piccolo's ``insert(*rows)`` builds an object and SQL text per row (~100 µs each), the
whole time budget of a million-row import. Here the batch goes in set-wise on the
transaction's own connection, so the import stays one transaction: one ``INSERT …
SELECT FROM unnest(…)`` per batch on PostgreSQL (asyncpg), a multi-row ``INSERT …
VALUES`` per chunk on SQLite (sqlite3 through aiosqlite).
Values arrive converted to the column types by ``rows.import_row``.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from typing import Any

from piccolo.columns import Serial

from core import db


def insert_columns(cls: Any) -> list[Any]:
    return [c for c in cls._meta.columns if not isinstance(c, Serial)]


async def insert_many(cls: Any, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = insert_columns(cls)
    names = [c._meta.db_column_name for c in columns]
    defaults = [c.get_default_value() for c in columns]
    records = [tuple(map(r.get, names, defaults)) for r in rows]  # (a C loop per row)
    quoted = ", ".join(f'"{n}"' for n in names)
    table = cls._meta.tablename
    eng = db.engine()
    if isinstance(eng, db.PostgresEngine):
        # One statement per batch, each column one array (as tenants/identifiers/
        # services/sql.py): the escrow triggers are statement-level, so a statement per
        # row (executemany) ran them per row; 1M rows took 106 s that way.
        arrays = ", ".join(f"${i + 1}::{c.column_type}[]" for i, c in enumerate(columns))
        await db.transaction_connection().execute(
            f'INSERT INTO "{table}" ({quoted}) SELECT * FROM unnest({arrays})',  # noqa: S608 - declared names
            *[list(col) for col in zip(*records, strict=True)],
        )
        return
    tx = eng.current_transaction.get()
    if tx is None:
        raise RuntimeError("insert_many() runs inside the import's transaction")
    # One multi-row INSERT per chunk, not executemany: on a table with escrow triggers
    # every statement opens a statement journal, and a statement per row wrote it ~16
    # times a row (3x the insert's own time on a 1M-row import).
    per = max(1, _sqlite_max_variables() // len(names))
    for start in range(0, len(records), per):
        chunk = records[start : start + per]
        marks = ", ".join(["(" + ", ".join("?" * len(names)) + ")"] * len(chunk))
        await tx.connection.execute(
            f'INSERT INTO "{table}" ({quoted}) VALUES {marks}',  # noqa: S608 - declared names
            [v for record in chunk for v in record],
        )


@functools.cache
def _sqlite_max_variables() -> int:
    """This SQLite library's bound on ``?`` parameters in one statement."""
    with contextlib.closing(sqlite3.connect(":memory:")) as conn:
        return conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
