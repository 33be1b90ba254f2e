"""A tenant's lifecycle policy: what the HTTP doors answer for its suspended and expired
identifiers (core/lifecycle.py). ``refuse`` (the default) answers 403 / 410 problems;
``serve`` answers as for an active identifier, with ``Identifier-Status``. Revoked and
not-yet-valid identifiers are refused whatever the policy.

Cached records carry the policy they were built with; a change publishes ``tenant:``,
which drops every cached record, so the next resolution reads the new one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core import audit, lifecycle
from core.auth import Principal
from core.bus import get_bus
from core.errors import InvalidValue
from core.identifiers import Handle
from core.tenancy import tenant_transaction
from tenants.accounts.tables import Tenant
from tenants.identifiers.services.records import active_tenant, require_scope


def _probe(principal: Principal | None) -> Handle:
    prefix = principal.tenant_prefix if principal is not None else None
    return Handle(prefix or "", "")


async def get_policy(principal: Principal | None) -> dict[str, str]:
    principal = require_scope(principal, "read", _probe(principal))
    row = (
        await Tenant.select(Tenant.lifecycle_suspended, Tenant.lifecycle_expired)
        .where(Tenant.id == principal.tenant_id)
        .first()
        .run()
        or {}
    )
    return {
        "suspended": row.get("lifecycle_suspended") or lifecycle.REFUSE,
        "expired": row.get("lifecycle_expired") or lifecycle.REFUSE,
    }


async def set_policy(principal: Principal | None, raw: dict[str, Any], *,
                     actor: str | None = None) -> dict[str, str]:  # fmt: skip
    """Change one or both; InvalidValue naming the field for anything else."""
    principal = require_scope(principal, "write", _probe(principal))
    unknown = sorted(set(raw) - {"suspended", "expired"})
    if unknown:
        raise InvalidValue(f"unknown field {unknown[0]!r}; the policy has suspended and "
                           "expired", field=unknown[0])  # fmt: skip
    if not raw:
        raise InvalidValue("nothing to change: give suspended or expired", field="suspended")
    changes: dict[Any, Any] = {Tenant.updated_at: datetime.now(UTC)}
    if "suspended" in raw:
        changes[Tenant.lifecycle_suspended] = lifecycle.parse_policy(raw["suspended"], "suspended")
    if "expired" in raw:
        changes[Tenant.lifecycle_expired] = lifecycle.parse_policy(raw["expired"], "expired")
    tenant_id = await active_tenant(principal, _probe(principal))
    before = await get_policy(principal)
    async with tenant_transaction(tenant_id):
        await Tenant.update(changes).where(Tenant.id == tenant_id).run()
        after = {**before, **{k: v for k, v in raw.items()}}
        after = {k: str(v).strip().lower() for k, v in after.items()}
        await audit.record(
            actor=actor or principal.actor,
            action="tenant.lifecycle_policy",
            target=principal.tenant_prefix or "",
            tenant_id=tenant_id,
            detail={"before": before, "after": after},
        )
    await get_bus().publish(f"tenant:{principal.tenant_prefix}")
    return after
