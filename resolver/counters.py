"""Resolution counters: counted in memory, flushed to the database in batches.

Never a database write per resolution. A crash loses at most one flush interval of
counts, which is the accepted price of a read path that never writes.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, date, datetime

from piccolo.querystring import QueryString

from core import db
from core.tenancy import cross_tenant

log = logging.getLogger("idnest.counters")


class ResolutionCounters:
    def __init__(self) -> None:
        # tenant id -> [resolved, not found]
        self._counts: defaultdict[int, list[int]] = defaultdict(lambda: [0, 0])
        self.total = 0

    def hit(self, tenant_id: int) -> None:
        self._counts[tenant_id][0] += 1
        self.total += 1

    def not_found(self, tenant_id: int) -> None:
        self._counts[tenant_id][1] += 1
        self.total += 1

    def take(self) -> dict[int, list[int]]:
        counts, self._counts = self._counts, defaultdict(lambda: [0, 0])
        return dict(counts)

    async def flush(self, today: date | None = None) -> int:
        counts = self.take()
        if not counts:
            return 0
        day = today or datetime.now(UTC).date()
        try:
            # One transaction for every tenant's counts: the node's own job.
            async with cross_tenant("maintenance", write=True):
                for tenant_id, (resolved, missing) in counts.items():
                    await db.engine().run_querystring(_upsert(tenant_id, day, resolved, missing))
        except Exception:
            log.exception("could not flush resolution counters; keeping them for next time")
            for tenant_id, (resolved, missing) in counts.items():
                self._counts[tenant_id][0] += resolved
                self._counts[tenant_id][1] += missing
            return 0
        return len(counts)


def _upsert(tenant_id: int, day: date, resolved: int, missing: int) -> QueryString:
    return QueryString(
        "INSERT INTO resolution_counts (tenant_id, day, resolutions, not_found) "
        "VALUES ({}, {}, {}, {}) ON CONFLICT (tenant_id, day) DO UPDATE SET "
        "resolutions = resolution_counts.resolutions + EXCLUDED.resolutions, "
        "not_found = resolution_counts.not_found + EXCLUDED.not_found",
        tenant_id,
        day,
        resolved,
        missing,
    )
