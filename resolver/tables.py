"""Resolution counters, flushed from memory in batches (never a write per resolution)."""

from __future__ import annotations

from piccolo.columns import BigInt, Date, Integer, Serial
from piccolo.constraints import Unique
from piccolo.table import Table


class ResolutionCount(Table, tablename="resolution_counts"):
    id: Serial
    tenant_id = Integer()
    day = Date()
    resolutions = BigInt(default=0)
    not_found = BigInt(default=0)
    unique_day = Unique(["tenant_id", "day"], name="resolution_counts_tenant_day_unique")
