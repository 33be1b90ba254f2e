"""Offboarding: the owner asks to close, a final export is made and offered, a grace
period follows in which the owner may cancel, then the tenant is erased (on the
``tenant-erasure`` periodic job, tenants/ownership/jobs.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from core import audit
from core.errors import Conflict, NotFound
from core.settings import get_settings
from core.tenancy import cross_tenant
from tenants.accounts.services.tenants import TenantInfo, get_by_prefix
from tenants.ownership.services import erasure
from tenants.ownership.services.jobs import create_export
from tenants.ownership.tables import TenantClosure


@dataclass(frozen=True)
class Closure:
    prefix: str
    status: str
    export_id: str
    requested_at: datetime
    erase_after: datetime


def _closure(row: dict[str, Any]) -> Closure:
    return Closure(
        row["prefix"], row["status"], row["export_id"], row["requested_at"], row["erase_after"]
    )


async def get_by_id(tenant_id: int) -> TenantInfo:
    from tenants.accounts.tables import Tenant

    row = await Tenant.select().where(Tenant.id == tenant_id).first().run()
    if row is None:
        raise NotFound(f"there is no tenant {tenant_id}")
    return TenantInfo(row["id"], row["prefix"], row["name"], row["status"], row["code"])


async def pending_closure(tenant_id: int) -> Closure | None:
    async with cross_tenant("ownership"):
        row = await (
            TenantClosure.select()
            .where((TenantClosure.tenant_ref == tenant_id) & (TenantClosure.status == "pending"))
            .first()
            .run()
        )
    return None if row is None else _closure(row)


async def request_closure(
    tenant_id: int, *, actor: str, now: datetime | None = None
) -> tuple[int, Closure]:
    """Start the grace period and queue the final export; (export job pk, closure)."""
    if await pending_closure(tenant_id) is not None:
        raise Conflict("a closure is already pending for this tenant")
    now = now or datetime.now(UTC)
    job_pk, export = await create_export(tenant_id, actor=actor)
    async with cross_tenant("ownership", write=True):
        prefix = (await get_by_id(tenant_id)).prefix
        row = TenantClosure(
            tenant_ref=tenant_id,
            prefix=prefix,
            status="pending",
            export_id=export.id,
            actor=actor,
            requested_at=now,
            erase_after=now + timedelta(days=get_settings().closure_grace_days),
        )
        await TenantClosure.insert(row).run()
        await audit.record(
            actor=actor,
            action="tenant.closure_requested",
            target=prefix,
            detail={"erase_after": row.erase_after.isoformat(), "export": export.id},
        )
    closure = await pending_closure(tenant_id)
    assert closure is not None
    return job_pk, closure


async def cancel_closure(tenant_id: int, *, actor: str) -> None:
    closure = await pending_closure(tenant_id)
    if closure is None:
        raise NotFound("no closure is pending for this tenant")
    async with cross_tenant("ownership", write=True):
        await (
            TenantClosure.update(
                {TenantClosure.status: "cancelled", TenantClosure.finished_at: datetime.now(UTC)}
            )
            .where((TenantClosure.tenant_ref == tenant_id) & (TenantClosure.status == "pending"))
            .run()
        )
        await audit.record(actor=actor, action="tenant.closure_cancelled", target=closure.prefix)


async def erase_due(now: datetime | None = None) -> list[str]:
    """Erase every tenant whose grace period has run out; the prefixes erased."""
    now = now or datetime.now(UTC)
    async with cross_tenant("ownership"):
        rows = (
            await TenantClosure.select(TenantClosure.prefix)
            .where((TenantClosure.status == "pending") & (TenantClosure.erase_after <= now))
            .run()
        )
    erased = []
    for r in rows:
        tenant = await get_by_prefix(r["prefix"])
        await erasure.erase_tenant(
            tenant.prefix,
            actor="scheduler",
            reason="closure requested by the owner; grace period over",
        )
        erased.append(tenant.prefix)
    return erased
