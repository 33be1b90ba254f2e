"""Erasure of a tenant's data, and the proof that nothing of it remains.

Walks core/tenancy.py: every row of every declared tenant table goes, children first,
except tables declared ``retained`` (what the law requires keeping: invoices). The
erasure's own trail is written as node rows (``tenant_id`` NULL) naming the prefix, so
it survives: an audit row, the closure record, and one outbox row per batch of deleted
identifiers, which is how the deletes travel upstream (and into the escrow). The
tenant's row stays, status ``erased``: its identifiers answer 410 Gone and its prefix is
not allocated again until staff release it.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from core import audit
from core.bus import get_bus
from core.errors import Conflict, InvalidValue
from core.outbox import OP_DELETE, enqueue
from core.tenancy import TENANT_COLUMN, TENANT_TABLES, cross_tenant, erase_order, piccolo_table
from tenants.accounts.services.tenants import TenantInfo, get_by_prefix
from tenants.accounts.tables import ERASED, Tenant
from tenants.identifiers.tables import Identifier
from tenants.onboarding.tables import Application, Upload
from tenants.ownership.tables import TenantClosure, TenantExport

UPSTREAM_ITEMS = 1000
PAGE_ROWS = 5000


@dataclass(frozen=True)
class ErasureCheck:
    prefix: str
    erased: bool  # the tenant is marked erased
    remaining: dict[str, int]  # rows left in tables that erasure deletes
    retained: dict[str, int]  # rows kept by law, per table

    @property
    def ok(self) -> bool:
        return self.erased and not any(self.remaining.values())


async def _send_deletes_upstream(tenant: TenantInfo) -> int:
    """Enqueue the deletes of every identifier of the tenant, a batch per outbox row, as
    node rows (the tenant's own outbox rows are erased with it)."""
    last, sent = 0, 0
    while True:
        rows = await (
            Identifier.select(Identifier.id, Identifier.handle)
            .where((Identifier.tenant_id == tenant.id) & (Identifier.id > last))
            .order_by(Identifier.id)
            .limit(PAGE_ROWS)
            .run()
        )
        if not rows:
            return sent
        for i in range(0, len(rows), UPSTREAM_ITEMS):
            items = [{"handle": r["handle"], "op": OP_DELETE} for r in rows[i : i + UPSTREAM_ITEMS]]
            await enqueue("upstream.identifier", {"items": items, "tenant": tenant.prefix})
        sent += len(rows)
        last = rows[-1]["id"]


async def _export_files(tenant_id: int) -> list[str]:
    rows = (
        await TenantExport.select(TenantExport.path)
        .where(TenantExport.tenant_id == tenant_id)
        .run()
    )
    return [r["path"] for r in rows if r["path"]]


async def _erase_application(tenant_id: int) -> int:
    """The application the tenant was approved from (a node table: filed before the
    tenant existed) holds its legal and contact data: it goes too, with its licence."""
    apps = (
        await Application.select(Application.id, Application.licence_id)
        .where(Application.approved_tenant_id == tenant_id)
        .run()
    )
    licences = [a["licence_id"] for a in apps if a["licence_id"]]
    if licences:
        await Upload.delete().where(Upload.id.is_in(licences)).run()
    if apps:
        await Application.delete().where(Application.approved_tenant_id == tenant_id).run()
    return len(apps)


async def erase_tenant(prefix: str, *, actor: str, reason: str) -> dict[str, int]:
    """Erase the tenant now, in one transaction; the rows deleted per table."""
    if not reason.strip():
        raise InvalidValue("an erasure needs a reason", field="reason")
    tenant = await get_by_prefix(prefix)
    if tenant.status == ERASED:
        raise Conflict(f"tenant {tenant.prefix} is already erased", field="tenant")
    deleted: dict[str, int] = {}
    async with cross_tenant("ownership", write=True):
        files = await _export_files(tenant.id)
        upstream = await _send_deletes_upstream(tenant)
        for table in erase_order():
            if table.retained:
                continue
            cls = piccolo_table(table.name)
            where = getattr(cls, TENANT_COLUMN) == tenant.id
            deleted[table.name] = await cls.count().where(where).run()
            await cls.delete().where(where).run()
        now = datetime.now(UTC)
        await (
            Tenant.update({Tenant.status: ERASED, Tenant.updated_at: now})
            .where(Tenant.id == tenant.id)
            .run()
        )
        await (
            TenantClosure.update({TenantClosure.status: "erased", TenantClosure.finished_at: now})
            .where((TenantClosure.tenant_ref == tenant.id) & (TenantClosure.status == "pending"))
            .run()
        )
        await audit.record(
            actor=actor,
            action="tenant.erase",
            target=tenant.prefix,
            detail={"reason": reason, "deleted": deleted, "upstream_deletes": upstream},
        )
        await enqueue(
            "upstream.tenant", {"prefix": tenant.prefix, "op": "status", "status": ERASED}
        )
    for path in files:
        with contextlib.suppress(OSError):
            Path(path).unlink()  # noqa: ASYNC240 - a few local files, once
    await get_bus().publish(f"tenant:{tenant.prefix}")
    return deleted


async def verify_erased(prefix: str) -> ErasureCheck:
    tenant = await get_by_prefix(prefix)
    remaining: dict[str, int] = {}
    retained: dict[str, int] = {}
    async with cross_tenant("ownership"):
        for table in TENANT_TABLES:
            cls = piccolo_table(table.name)
            n = await cls.count().where(getattr(cls, TENANT_COLUMN) == tenant.id).run()
            (retained if table.retained else remaining)[table.name] = n
        files = await _export_files(tenant.id)
        remaining["onboarding_applications"] = (
            await Application.count().where(Application.approved_tenant_id == tenant.id).run()
        )
    remaining["export files"] = sum(1 for f in files if os.path.exists(f))  # noqa: ASYNC240
    return ErasureCheck(tenant.prefix, tenant.status == ERASED, remaining, retained)


async def release_prefix(prefix: str, *, actor: str, reason: str) -> str:
    """Staff: let an erased tenant's prefix be allocated again. The row is kept (retained
    rows still point at it) under a name no look-up matches."""
    tenant = await get_by_prefix(prefix)
    if tenant.status != ERASED:
        raise Conflict(f"tenant {tenant.prefix} is {tenant.status}, not erased", field="tenant")
    released = f"{tenant.prefix}~released~{tenant.id}"
    async with cross_tenant("ownership", write=True):
        await (
            Tenant.update({Tenant.prefix: released, Tenant.status: "released"})
            .where(Tenant.id == tenant.id)
            .run()
        )
        await audit.record(
            actor=actor, action="tenant.release", target=tenant.prefix, detail={"reason": reason}
        )
    await get_bus().publish(f"tenant:{tenant.prefix}")
    return released
