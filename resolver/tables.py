"""Resolution counters, flushed from memory in batches (never a write per resolution)."""

from __future__ import annotations

from piccolo.columns import BigInt, Date, ForeignKey, OnDelete, Serial
from piccolo.constraints import Unique
from piccolo.table import Table

from tenants.accounts.tables import Tenant


class ResolutionCount(Table, tablename="resolution_counts"):
    id: Serial
    tenant_id = ForeignKey(Tenant, on_delete=OnDelete.restrict, null=False)
    day = Date()
    resolutions = BigInt(default=0)
    not_found = BigInt(default=0)
    unique_day = Unique(["tenant_id", "day"], name="resolution_counts_tenant_day_unique")
