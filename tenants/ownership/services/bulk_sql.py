"""Set-wise inserts for an import, without a Piccolo object per row.

Piccolo's ``insert(*rows)`` builds an object and SQL text per row (~100 µs each), the
whole time budget of a million-row import. Here one prepared statement runs for the
whole batch: ``executemany`` on the transaction's own connection (asyncpg on
PostgreSQL, sqlite3 through aiosqlite on SQLite), so the import stays one transaction.
Values arrive converted to the column types by ``rows.import_row``.
"""

from __future__ import annotations

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
    defaults = {c._meta.db_column_name: c.get_default_value() for c in columns}
    records = [tuple(r[n] if n in r else defaults[n] for n in names) for r in rows]
    quoted = ", ".join(f'"{n}"' for n in names)
    table = cls._meta.tablename
    eng = db.engine()
    if isinstance(eng, db.PostgresEngine):
        marks = ", ".join(f"${i + 1}" for i in range(len(names)))
        await db.transaction_connection().executemany(
            f'INSERT INTO "{table}" ({quoted}) VALUES ({marks})',  # noqa: S608 - declared names
            records,
        )
        return
    tx = eng.current_transaction.get()
    if tx is None:
        raise RuntimeError("insert_many() runs inside the import's transaction")
    marks = ", ".join("?" for _ in names)
    await tx.connection.executemany(
        f'INSERT INTO "{table}" ({quoted}) VALUES ({marks})',  # noqa: S608 - declared names
        records,
    )
