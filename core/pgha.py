"""PostgreSQL high availability: the primary found again, one safe retry, read replicas.

Finding the primary is asyncpg's: a multi-host ``IDNEST_DATABASE_URL`` with
``target_session_attrs=read-write`` tries each host and keeps the one that accepts
writes, so a new connection after a failover lands on the new primary.

What this module adds is knowing *when* a failed transaction may be run again. The
transaction class below records how far it got. A failure before COMMIT was sent (the
connection was lost, the server shut down, or it answered "read-only transaction" because
it is a standby now) means nothing of it is stored: it raises ``NotCommitted``, and the
door that owns the whole unit of work runs it once more (``core.replay`` for HTTP). A
connection lost *during* COMMIT leaves the outcome unknown: ``CommitOutcomeUnknown`` is
never retried here; the client's Idempotency-Key makes its own retry safe. Either way
every connection of the old server is dropped from the pool, and a broken connection is
always returned to the pool (Piccolo's transaction leaks it when ROLLBACK fails).

``Replicas`` routes resolution cache misses to streaming replicas that have replayed
what the primary had written one probe ago (see ``resolver.cache`` for the freshness rule).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import asyncpg
from piccolo.engine.postgres import PostgresEngine, PostgresTransaction

log = logging.getLogger("idnest.db")

# Connection failures, server shutdown (admin / crash / starting up), and the read-only
# answer of a server that was demoted under an open connection.
_FAILOVER_SQLSTATES = frozenset({"25006", "57P01", "57P02", "57P03"})


# A deadlock victim or a serialization failure: the server rolled the whole transaction
# back, so running it again from the start is safe.
_CONTENDED_SQLSTATES = frozenset({"40P01", "40001"})


class Contended(Exception):
    """PostgreSQL rolled the transaction back to break a deadlock (or a serialization
    conflict): nothing of it is stored, and a second run will usually pass."""


class NotCommitted(ConnectionError):
    """The primary went away before COMMIT was sent: nothing was stored, a retry is safe."""


class CommitOutcomeUnknown(ConnectionError):
    """The connection was lost while COMMIT was on its way: it may or may not be stored."""


def is_failover(exc: BaseException) -> bool:
    """Whether an error means the server we were talking to is gone or is not the primary."""
    if isinstance(exc, NotCommitted | CommitOutcomeUnknown):
        return True
    if isinstance(exc, asyncpg.PostgresConnectionError):
        return True
    if isinstance(exc, asyncpg.PostgresError):
        return getattr(exc, "sqlstate", None) in _FAILOVER_SQLSTATES
    if isinstance(exc, asyncpg.InterfaceError):
        return "closed" in str(exc)
    return isinstance(exc, ConnectionError)


@dataclass
class Attempt:
    """One run of a unit of work (an HTTP write request): what its transactions did."""

    commits: int = 0
    lost_before_commit: bool = False


_attempt: ContextVar[Attempt | None] = ContextVar("idnest_write_attempt", default=None)


def begin_attempt() -> tuple[Attempt, Any]:
    attempt = Attempt()
    return attempt, _attempt.set(attempt)


def end_attempt(token: Any) -> None:
    _attempt.reset(token)


class IdnestPostgresTransaction(PostgresTransaction):
    """Piccolo's transaction, classifying a failover and always giving its connection back."""

    engine: IdnestPostgresEngine
    # Set by core.tenancy for a read: its commit does not count as work done.
    read_only = False

    async def __aenter__(self) -> PostgresTransaction:
        if self._parent is not None:
            return self._parent
        for round_ in (1, 2):
            self.connection = await self.get_connection()
            self.transaction = self.connection.transaction()
            try:
                await self.begin()
                break
            except BaseException as exc:
                await self._give_back(broken=True)
                # A pooled connection to the old primary: nothing was sent, so a fresh
                # connection (which finds the new primary) may simply try again.
                if round_ == 2 or not is_failover(exc):
                    raise
                await self.engine.forget_connections()
        self.context = self.engine.current_transaction.set(self)
        return self

    async def __aexit__(self, exception_type: Any, exception: Any, traceback: Any) -> bool:
        if self._parent:
            return exception is None
        failure: BaseException | None = None
        try:
            if exception is not None:
                if not self._rolled_back:
                    await self.rollback()
            elif not self._committed and not self._rolled_back:
                await self.commit()
        except BaseException as exc:
            failure = exc
        finally:
            self.engine.current_transaction.reset(self.context)
            await self._give_back(broken=failure is not None)
        attempt = _attempt.get()
        if exception is not None and getattr(exception, "sqlstate", None) in _CONTENDED_SQLSTATES:
            if attempt is not None:
                attempt.lost_before_commit = True  # rolled back whole: a replay is safe
            raise Contended(f"rolled back by the server: {exception!r}") from exception
        if exception is not None and is_failover(exception):
            # Whatever ROLLBACK did: the server drops an uncommitted transaction whose
            # connection is gone, and a read-only server never had our writes.
            await self.engine.forget_connections()
            if attempt is not None:
                attempt.lost_before_commit = True
            raise NotCommitted(f"the primary went away before COMMIT: {exception!r}") from exception
        if failure is not None:
            if exception is None and is_failover(failure):
                await self.engine.forget_connections()
                raise CommitOutcomeUnknown(
                    f"the connection was lost during COMMIT: {failure!r}"
                ) from failure
            if exception is None:
                raise failure
            # ROLLBACK failed after the body's own error: that error is the one to report.
            log.warning("rollback failed after %r: %r", exception, failure)
            return False
        if exception is None and attempt is not None and self._committed and not self.read_only:
            attempt.commits += 1
        return exception is None

    async def _give_back(self, *, broken: bool) -> None:
        connection = self.connection
        with contextlib.suppress(Exception):
            if broken:
                connection.terminate()
            if self.engine.pool:
                await self.engine.pool.release(connection)
            else:
                await connection.close()


async def keep_session(connection: Any) -> None:
    """The pools' ``reset``: nothing beyond what asyncpg always does (roll back a
    transaction left open, drop listeners).

    asyncpg's default sends ``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL`` on every release: a round trip, and four statements for the server, for
    every query run outside a transaction and every transaction, each resolution miss
    batch and each write among them. A pooled connection here never carries session
    state: the tenant scope is ``set_config(..., true)`` and every ``SET`` is ``SET
    LOCAL`` (both end with the transaction), cursors live inside transactions, nothing
    LISTENs, and the two session advisory locks (migrations, escrow sets) are taken on
    connections of their own, outside the pool. tests/core/test_db_pool.py checks that.
    """


class IdnestPostgresEngine(PostgresEngine):
    """Transactions are ``IdnestPostgresTransaction``; a failover expires the whole pool."""

    def transaction(self, allow_nested: bool = True) -> PostgresTransaction:
        return IdnestPostgresTransaction(engine=self, allow_nested=allow_nested)

    async def forget_connections(self) -> None:
        """Every pooled connection may point at the old primary: close them as they come
        back and open new ones, which the multi-host URL sends to the new primary."""
        if self.pool is not None:
            await self.pool.expire_connections()


class Replicas:
    """Read-only engines for resolution misses, used only while fresh.

    Every probe reads the primary's WAL position and each replica's replay position. A
    replica is fresh when it has replayed everything the primary had written at the
    previous probe, so its lag is under two probe intervals; ``resolver.cache`` sends a
    key written in the last ``fresh_seconds`` (at least three intervals) to the primary.
    """

    def __init__(self, primary: PostgresEngine, nodes: dict[str, PostgresEngine], interval: float):
        self.primary = primary
        self.nodes = nodes
        self.interval = interval
        self.fresh: list[str] = []
        self._turn = itertools.count()
        self._task: asyncio.Task[None] | None = None
        self.reads = dict.fromkeys(nodes, 0)

    def pick(self) -> str | None:
        fresh = self.fresh
        if not fresh:
            return None
        return fresh[next(self._turn) % len(fresh)]

    def metric_values(self) -> list[tuple[str, tuple[tuple[str, str], ...], float]]:
        """``idnest_replica_reads_total`` per replica, for core.metrics."""
        return [("idnest_replica_reads_total", (("node", n),), v) for n, v in self.reads.items()]

    def demote(self, name: str) -> None:
        """A read on this replica failed: primary only until the next probe says otherwise."""
        self.fresh = [n for n in self.fresh if n != name]

    async def start(self, pool_size: int) -> None:
        for eng in self.nodes.values():
            with contextlib.suppress(*_PROBE_ERRORS):
                await eng.start_connection_pool(
                    min_size=0, max_size=pool_size, reset=keep_session
                )
        await self.probe_once(None)
        self._task = asyncio.get_running_loop().create_task(self._probe_forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for eng in self.nodes.values():
            with contextlib.suppress(Exception):
                await eng.close_connection_pool()

    async def _probe_forever(self) -> None:
        previous: int | None = None
        while True:
            await asyncio.sleep(self.interval)
            previous = await self.probe_once(previous)

    async def probe_once(self, previous: int | None) -> int | None:
        """One round; returns the primary's position now, for the next round."""
        try:
            now = int(await _fetchval(self.primary, "SELECT pg_current_wal_lsn() - '0/0'"))
        except _PROBE_ERRORS:
            now = None
        fresh = []
        for name, eng in self.nodes.items():
            if previous is None:
                continue
            try:
                replayed = await _fetchval(
                    eng,
                    "SELECT CASE WHEN pg_is_in_recovery() "
                    "THEN pg_last_wal_replay_lsn() - '0/0' END",
                )
            except _PROBE_ERRORS:
                continue
            if replayed is not None and int(replayed) >= previous:
                fresh.append(name)
        if fresh != self.fresh:
            log.info("replicas fresh for resolution: %s", ", ".join(fresh) or "none")
        self.fresh = fresh
        return now


_PROBE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    ValueError,
)


async def _fetchval(eng: PostgresEngine, sql: str) -> Any:
    if eng.pool is None:
        raise ValueError("no pool")
    async with eng.pool.acquire(timeout=eng.config.get("timeout")) as conn:
        return await conn.fetchval(sql, timeout=eng.config.get("timeout"))
