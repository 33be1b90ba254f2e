"""Tenant changes made by another process, noticed without Redis (the embedded default).

With Redis, every write publishes its invalidation. On the embedded default the serving
process has no bus to hear the CLI on: ``idnest tenant erase``, ``suspend`` or ``close``
run in a process of their own. Record entries expire after a backstop (the auth cache
TTL), but a tenant's status must not lag that long: an erased tenant's names answer 410
at once. So the serving process looks, every ``INTERVAL`` (0.1) seconds, at the newest change
to the ``tenants`` table in the change log (``escrow_changes``, written by triggers in the
changing transaction, core.changelog) and flushes its caches when it moved. One indexed
query per interval, none per resolution; our own tenant changes flush too (they are rare).

On SQLite the watch follows the identifiers in the same log (writers are serialised there,
so ids are commit order and "every change after the last id seen" misses none): a record
written or deleted by another process (the CLI, a bulk job) is dropped from the cache
within an interval, by key. That is what lets cached records live without the 10-second
backstop expiry (resolver.runtime), which on the embedded default made every record warmed
in the first seconds expire in the same instant, ten seconds later, and all of them miss
the database at once, again and again (issue 18: 8-16k QPS fell to 550-2,300). On
PostgreSQL without Redis ids are not commit order, so there the backstop stays.
"""

from __future__ import annotations

import asyncio
import logging
import time

from core import db
from core.bus import FLUSH_ALL, InvalidationBus
from core.settings import Settings, get_settings
from core.tables import EscrowChange

log = logging.getLogger("idnest.tenant_watch")
INTERVAL = 0.1
# Changes read per interval. A bulk load in another process writes faster than one page:
# the watch then follows a page per interval (20,000 rows/s) and catches up after it.
PAGE = 2000
CATCH_UP_SECONDS = 10.0


def settle(settings: Settings) -> None:
    """For a CLI command that changed a tenant: on the embedded default, return only once
    a serving process on the same database has had time to notice (three intervals), so
    the next request after the command sees the change."""
    if not settings.uses_redis:
        time.sleep(3 * INTERVAL)


def follows_records() -> bool:
    """Whether the watch follows identifier changes too: on SQLite only (the module's
    docstring says why)."""
    return get_settings().embedded


async def _newest() -> int:
    row = await (
        EscrowChange.select(EscrowChange.id)
        # A new tenant changes nothing cached; a status change, erasure or release does.
        .where((EscrowChange.table_name == "tenants") & (EscrowChange.op != "insert"))
        .order_by(EscrowChange.id, ascending=False)
        .first()
        .run()
    )
    return int(row["id"]) if row else 0


async def _newest_any() -> int:
    row = await (
        EscrowChange.select(EscrowChange.id).order_by(EscrowChange.id, ascending=False).first()
    ).run()
    return int(row["id"]) if row else 0


async def changes_after(seen: int) -> tuple[int, list[str]]:
    """The last change id read and the invalidations for the tenant and identifier
    changes after ``seen`` (one page): ``rec:<key>`` for a written identifier; a flush for
    a tenant change or a deleted identifier (its key went with its row)."""
    rows = await (
        EscrowChange.select(EscrowChange.id, EscrowChange.table_name, EscrowChange.row_id,
                            EscrowChange.op)
        .where((EscrowChange.id > seen)
               & EscrowChange.table_name.is_in(["tenants", "identifiers"]))
        .order_by(EscrowChange.id)
        .limit(PAGE)
        .run()
    )  # fmt: skip
    if not rows:
        return seen, []
    last = int(rows[-1]["id"])
    if any(r["op"] != "insert" if r["table_name"] == "tenants" else r["op"] == "delete"
           for r in rows):  # fmt: skip
        return last, [FLUSH_ALL]
    ids = sorted({int(r["row_id"]) for r in rows if r["table_name"] == "identifiers"})
    if not ids:
        return last, []
    # Raw SQL: core does not import the tenants package's tables.
    keys = await EscrowChange.raw(
        f"SELECT handle_key FROM identifiers WHERE id IN ({', '.join('{}' for _ in ids)})",  # noqa: S608 - placeholders only
        *ids,
    ).run()
    return last, [f"rec:{k['handle_key']}" for k in keys]


async def watch_forever(
    bus: InvalidationBus, interval: float = INTERVAL, *, records: bool = False
) -> None:
    """Until cancelled. ``records``: follow identifier changes too (SQLite only, above)."""
    seen: int | None = None
    while True:
        try:
            if records:
                if seen is None:
                    seen = await _newest_any()
                else:
                    seen, messages = await changes_after(seen)
                    for message in messages:
                        bus.deliver(message)
            else:
                newest = await _newest()
                if seen is not None and newest != seen:
                    bus.deliver(FLUSH_ALL)
                seen = newest
            bus.log_seen = seen
        except db.UNREACHABLE_ERRORS as exc:
            log.debug("tenant watch: change log unreadable (%r)", exc)
        await asyncio.sleep(interval)


async def caught_up(bus: InvalidationBus) -> bool:
    """Wait until this process's watch has read every change committed before the call,
    so its echo of our own writes is delivered and cannot drop a copy cached after now.
    A fixed sleep of a few intervals was not enough on a loaded machine. False when no
    watch runs (a Redis bus) or it did not catch up within ``CATCH_UP_SECONDS``."""
    if not bus.watching:
        return False
    newest = await (_newest_any() if follows_records() else _newest())
    try:
        async with asyncio.timeout(CATCH_UP_SECONDS):
            while (bus.log_seen or 0) < newest:  # noqa: ASYNC110 - polled at the watch's pace
                await asyncio.sleep(INTERVAL / 4)
    except TimeoutError:
        return False
    return True
