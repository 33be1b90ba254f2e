"""Tenant changes made by another process, noticed without Redis (the embedded default).

With Redis, every write publishes its invalidation. On the embedded default the serving
process has no bus to hear the CLI on: ``idnest tenant erase``, ``suspend`` or ``close``
run in a process of their own. Record entries expire after a backstop (the auth cache
TTL), but a tenant's status must not lag that long: an erased tenant's names answer 410
at once. So the serving process looks, every ``INTERVAL`` (0.1) seconds, at the newest change
to the ``tenants`` table in the change log (``escrow_changes``, written by triggers in the
changing transaction, core.changelog) and flushes its caches when it moved. One indexed
query per interval, none per resolution; our own tenant changes flush too (they are rare).
"""

from __future__ import annotations

import asyncio
import logging
import time

from core import db
from core.bus import FLUSH_ALL, InvalidationBus
from core.settings import Settings
from core.tables import EscrowChange

log = logging.getLogger("idnest.tenant_watch")
INTERVAL = 0.1


def settle(settings: Settings) -> None:
    """For a CLI command that changed a tenant: on the embedded default, return only once
    a serving process on the same database has had time to notice (three intervals), so
    the next request after the command sees the change."""
    if not settings.uses_redis:
        time.sleep(3 * INTERVAL)


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


async def watch_forever(bus: InvalidationBus, interval: float = INTERVAL) -> None:
    seen: int | None = None
    while True:
        try:
            newest = await _newest()
        except db.UNREACHABLE_ERRORS as exc:
            log.debug("tenant watch: change log unreadable (%r)", exc)
        else:
            if seen is not None and newest != seen:
                bus.deliver(FLUSH_ALL)
            seen = newest
        await asyncio.sleep(interval)
