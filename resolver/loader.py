"""The miss path: stored rows for handles the cache does not hold, read in batches.

Why batches: a miss used to cost a transaction of its own (BEGIN, the tenant setting,
a Piccolo-built SELECT, COMMIT: four round trips and the query building, 100–500 µs),
so misses were served at only 2–8k/s. Here concurrent misses of one tenant share one
transaction and one prepared statement, ``handle_key = ANY($2)`` on PostgreSQL (raw
asyncpg on the transaction's connection: row-level security still gets its tenant
setting from ``core.tenancy.tenant_transaction``), and concurrent misses of one key
share one read (single-flight).

The window costs no latency: a batch goes out at once while fewer than
``MAX_IN_FLIGHT`` batches are being read; beyond that, misses gather in the next batch
until one returns (at most ``MAX_BATCH`` keys a batch).

Freshness is as with one read a miss: a caller notes the cache's invalidation
generation before it asks, and joins a read already under way only if no invalidation
arrived since that read's first caller noted the same generation (resolver.cache).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Sequence
from typing import Any

from piccolo.engine.postgres import PostgresEngine

from core import db
from core.tenancy import tenant_replica_read, tenant_transaction
from resolver.cache import RecordCache
from tenants.identifiers.tables import Identifier

log = logging.getLogger("idnest.resolver")

MAX_BATCH = 256  # keys in one query
MAX_IN_FLIGHT = 4  # batches being read at once, per process

# The stored row of each key asked for; the tenant's row-level security applies too.
BATCH_SQL = (
    "SELECT handle_key, handle, values, status, status_since, status_reason, valid_from,"
    " valid_until FROM identifiers"
    " WHERE tenant_id = $1 AND handle_key = ANY($2::varchar[])"
)

Row = dict[str, Any]


class _Batch:
    __slots__ = ("futures", "generation", "primary", "tenant_id")

    def __init__(self, tenant_id: int, primary: bool, generation: int) -> None:
        self.tenant_id = tenant_id
        self.primary = primary
        self.generation = generation
        self.futures: dict[str, asyncio.Future[Row | None]] = {}


class MissLoader:
    def __init__(self, cache: RecordCache) -> None:
        self.cache = cache
        self.queries = 0  # batches read (a test counts them: N misses of one key → 1)
        self.keys_read = 0
        self._open: dict[tuple[int, bool], _Batch] = {}
        self._queued: list[_Batch] = []
        self._in_flight = 0
        # (tenant, key) → (generation its first caller noted, the read's future)
        self._flights: dict[tuple[int, str], tuple[int, asyncio.Future[Row | None]]] = {}

    async def read(self, tenant_id: int, key: str, generation: int) -> Row | None:
        """The stored row for one key (None: no such handle), batched with other misses.

        ``generation`` is the cache's, noted by the caller before it asked."""
        flight = self._flights.get((tenant_id, key))
        if flight is not None and flight[0] == generation == self.cache.generation:
            return await asyncio.shield(flight[1])
        # Keys written lately read the primary: a replica may not have them yet.
        primary = db.replicas() is None or self.cache.written_recently(key)
        batch = self._open.get((tenant_id, primary))
        if batch is None or len(batch.futures) >= MAX_BATCH:
            batch = _Batch(tenant_id, primary, generation)
            self._open[(tenant_id, primary)] = batch
            self._queued.append(batch)
            # A clean context: the batch reads for every waiter, not in the first one's
            # transaction or tenant scope (core.tenancy refuses to mix them).
            asyncio.get_running_loop().call_soon(self._dispatch, context=contextvars.Context())
        future = batch.futures.get(key)
        if future is None:
            future = batch.futures[key] = asyncio.get_running_loop().create_future()
        self._flights[(tenant_id, key)] = (generation, future)
        try:
            return await asyncio.shield(future)
        finally:
            if self._flights.get((tenant_id, key), (0, None))[1] is future:
                del self._flights[(tenant_id, key)]

    def _dispatch(self) -> None:
        while self._queued and self._in_flight < MAX_IN_FLIGHT:
            batch = self._queued.pop(0)
            if self._open.get((batch.tenant_id, batch.primary)) is batch:
                del self._open[(batch.tenant_id, batch.primary)]
            self._in_flight += 1
            asyncio.get_running_loop().create_task(
                self._run(batch), context=contextvars.Context()
            )

    async def _run(self, batch: _Batch) -> None:
        try:
            rows = await self._fetch(batch.tenant_id, list(batch.futures), batch.primary)
        except BaseException as exc:  # every waiter gets it (DB_ERRORS: serve stale)
            for future in batch.futures.values():
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            for key, future in batch.futures.items():
                if not future.done():
                    future.set_result(rows.get(key))
        finally:
            self._in_flight -= 1
            self._dispatch()

    async def _fetch(self, tenant_id: int, keys: list[str], primary: bool) -> dict[str, Row]:
        self.queries += 1
        self.keys_read += len(keys)
        replicas = db.replicas()
        node = None if primary or replicas is None else replicas.pick()
        if node is not None and replicas is not None:
            try:
                async with tenant_replica_read(tenant_id, node) as tx:
                    found = await tx.connection.fetch(BATCH_SQL, tenant_id, keys)
                replicas.reads[node] += len(keys)
                return {r["handle_key"]: dict(r) for r in found}
            except db.UNREACHABLE_ERRORS as exc:
                log.warning("read replica %s failed (%r); reading from the primary", node, exc)
                replicas.demote(node)
        async with tenant_transaction(tenant_id, write=False) as tx:
            if isinstance(db.engine(), PostgresEngine):
                found = await tx.connection.fetch(BATCH_SQL, tenant_id, keys)
                return {r["handle_key"]: dict(r) for r in found}
            return {r["handle_key"]: r for r in await select_rows(tenant_id, keys)}


async def select_rows(tenant_id: int, keys: Sequence[str]) -> list[Row]:
    """The same read through Piccolo: SQLite, and reads inside a caller's transaction."""
    i = Identifier
    rows: list[Row] = await i.select(
        i.handle_key, i.handle, i.values,
        i.status, i.status_since, i.status_reason, i.valid_from, i.valid_until,  # lifecycle
    ).where((i.tenant_id == tenant_id) & i.handle_key.is_in(list(keys)))  # fmt: skip
    return rows
