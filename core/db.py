"""The database engine: SQLite in the embedded profile, PostgreSQL otherwise.

Piccolo's SQLite engine opens a connection per query and leaves the journal mode
alone, so this module turns on WAL once and makes writers take the lock up front
(``BEGIN IMMEDIATE``); otherwise concurrent writers see "database is locked". Its
transactions also always close their connection, even when cancelled (see
``ClosingSQLiteTransaction``).
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType

from core.metrics import METER
from core.pgha import IdnestPostgresEngine, Replicas, is_failover, keep_session
from core.settings import Settings, get_settings

PICCOLO_CONF = "core.piccolo_conf"
_ADD_UNIQUE = re.compile(
    r'^ALTER TABLE (?P<table>"?\w+"?) ADD CONSTRAINT (?P<name>"?\w+"?) UNIQUE (?P<cols>\(.*\))$'
)


class ClosingSQLiteTransaction(SQLiteTransaction):
    """A transaction whose connection is closed on every way out.

    Piccolo's leaves its connection open when the task is cancelled while ``BEGIN
    IMMEDIATE`` waits for the write lock (a client that hangs up, a shutdown, a stopped
    bulk job): the BEGIN then succeeds on aiosqlite's thread with nobody left to end it,
    and every later write in the node fails with "database is locked" until a restart.
    The same happens when COMMIT or ROLLBACK is interrupted. Closing the connection is
    enough on every error path: SQLite rolls back what was not committed.
    """

    async def __aenter__(self) -> SQLiteTransaction:
        if self._parent is not None:
            return self._parent
        self.connection = await self.get_connection()
        try:
            await self.begin()
        except BaseException:
            await _close(self.connection)
            raise
        self.context = self.engine.current_transaction.set(self)
        return self

    async def __aexit__(self, exception_type: Any, exception: Any, traceback: Any) -> bool:
        if self._parent is not None:
            return exception is None
        try:
            if exception is None and not self._committed and not self._rolled_back:
                await self.commit()
        finally:
            await _close(self.connection)
            self.engine.current_transaction.reset(self.context)
        return exception is None


async def _close(connection: Any) -> None:
    # Shielded: a second cancellation must not stop the close half-way. Once started,
    # close() is queued on the connection's own thread and completes there regardless.
    await asyncio.shield(asyncio.ensure_future(connection.close()))


class IdnestSQLiteEngine(SQLiteEngine):
    """SQLite cannot add a constraint to an existing table; a unique index does the same.

    Piccolo emits composite ``Unique`` constraints as ``ALTER TABLE ... ADD CONSTRAINT``,
    so migrations authored against PostgreSQL would fail here without this rewrite.
    Transactions are ``ClosingSQLiteTransaction``.
    """

    def transaction(
        self,
        transaction_type: TransactionType = TransactionType.deferred,
        allow_nested: bool = True,
    ) -> SQLiteTransaction:
        return ClosingSQLiteTransaction(
            engine=self, transaction_type=transaction_type, allow_nested=allow_nested
        )

    async def run_ddl(self, ddl: str, in_pool: bool = False) -> Any:
        match = _ADD_UNIQUE.match(ddl.strip())
        if match:
            ddl = (
                f"CREATE UNIQUE INDEX IF NOT EXISTS {match['name']} "
                f"ON {match['table']} {match['cols']}"
            )
        return await super().run_ddl(ddl, in_pool=in_pool)


def sqlite_path(url: str) -> Path:
    """``sqlite:///relative.db`` or ``sqlite:////absolute/path.db`` (SQLAlchemy style)."""
    if not url.startswith("sqlite:///"):
        raise ValueError(f"a SQLite URL looks like sqlite:///var/idnest.sqlite3, got {url!r}")
    return Path(url[len("sqlite:///") :])


def build_engine(settings: Settings) -> Engine:
    url = settings.effective_database_url
    if url.startswith("sqlite:"):
        path = sqlite_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(path) as conn:
            # WAL lets readers proceed while one writer writes; it persists in the file.
            conn.execute("PRAGMA journal_mode=WAL")
        return IdnestSQLiteEngine(path=str(path), timeout=settings.sqlite_timeout)
    if url.startswith(("postgres://", "postgresql://")):
        # A database that does not answer is given up on after db_connect_timeout, so a
        # request is refused (503) rather than held; statements after db_command_timeout.
        # A multi-host URL with target_session_attrs=read-write finds the primary (core.pgha).
        def config(dsn: str) -> dict[str, Any]:
            return {
                "dsn": dsn,
                "timeout": settings.db_connect_timeout,
                "command_timeout": settings.db_command_timeout,
            }

        replicas = {
            f"replica{i}": PostgresEngine(config=config(u))
            for i, u in enumerate(settings.replica_urls, 1)
        }
        return IdnestPostgresEngine(config=config(url), extra_nodes=replicas)
    raise ValueError(f"IDNEST_DATABASE_URL must be sqlite:/// or postgresql://, got {url!r}")


def configure() -> None:
    """Point Piccolo at our configuration before any table is used."""
    os.environ["PICCOLO_CONF"] = PICCOLO_CONF


def engine() -> Engine:
    configure()
    from core import piccolo_conf

    return piccolo_conf.DB


_replicas: Replicas | None = None


def replicas() -> Replicas | None:
    """The read replicas of a serving process (None: every read goes to the primary)."""
    return _replicas


async def start(settings: Settings | None = None) -> None:
    global _replicas
    settings = settings or get_settings()
    eng = engine()
    if isinstance(eng, PostgresEngine):
        await eng.start_connection_pool(
            min_size=1, max_size=settings.db_pool_size, reset=keep_session
        )
        if eng.extra_nodes and _replicas is None:
            _replicas = Replicas(eng, dict(eng.extra_nodes), settings.replica_probe_interval)
            await _replicas.start(settings.db_pool_size)
            METER.add_source("replicas", _replicas.metric_values)


async def stop() -> None:
    global _replicas
    eng = engine()
    if _replicas is not None:
        await _replicas.stop()
        _replicas = None
    if isinstance(eng, PostgresEngine):
        await eng.close_connection_pool()


@asynccontextmanager
async def write_transaction() -> AsyncIterator[Any]:
    """One transaction for a write: the change, its audit row and its outbox rows."""
    eng = engine()
    if isinstance(eng, SQLiteEngine):
        async with eng.transaction(transaction_type=TransactionType.immediate) as tx:
            yield tx
    else:
        async with eng.transaction() as tx:
            yield tx


def transaction_connection() -> Any:
    """The asyncpg connection of the PostgreSQL transaction in progress, for the few
    set-wise statements where Piccolo's per-row result handling is the bottleneck."""
    eng = engine()
    tx = eng.current_transaction.get() if isinstance(eng, PostgresEngine) else None
    if tx is None:
        raise RuntimeError("transaction_connection() needs a PostgreSQL transaction")
    return tx.connection


async def ping() -> None:
    await engine().run_ddl("SELECT 1")


# Errors that mean "the database is unreachable", as opposed to a bad query.
UNREACHABLE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # core.pgha's NotCommitted and CommitOutcomeUnknown among them
    TimeoutError,
    sqlite3.OperationalError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
)


def is_unreachable(exc: BaseException) -> bool:
    """Whether an error escaping a request means the database is away (answer 503, not
    500). OSError is broad (a full disk is one too), so a plain OSError counts only when it
    was raised inside the database driver."""
    if isinstance(exc, asyncpg.PostgresError) and is_failover(exc):
        return True  # the server shut down, or answers read-only: it is not the primary
    if isinstance(exc, asyncpg.PostgresError) and not isinstance(
        exc,
        asyncpg.PostgresConnectionError
        | asyncpg.exceptions.CannotConnectNowError
        | asyncpg.exceptions.TooManyConnectionsError,
    ):
        return False
    if not isinstance(exc, UNREACHABLE_ERRORS):
        return False
    if isinstance(exc, ConnectionError | TimeoutError | sqlite3.OperationalError):
        return True
    if not isinstance(exc, OSError):
        return True  # asyncpg's own connection and interface errors
    frames = traceback.extract_tb(exc.__traceback__)
    return any("asyncpg" in f.filename or "piccolo/engine" in f.filename for f in frames)


def is_rejected_row(exc: BaseException) -> bool:
    """The database refused a row as data (a constraint, a type), on either backend: the
    row's fault, not the database's or ours."""
    return isinstance(
        exc,
        asyncpg.exceptions.IntegrityConstraintViolationError
        | asyncpg.exceptions.DataError
        | sqlite3.IntegrityError
        | sqlite3.DataError,
    )


def is_unique_violation(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return "unique" in text or "duplicate key" in text
