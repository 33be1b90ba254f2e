"""The read side of the identifier lifecycle (core/lifecycle.py): what a door answers.

``admit`` runs at answer time on every resolution of a record that carries lifecycle
data (``Record.lifecycle`` is None for every other record, so the common case costs one
attribute test). It raises the refusal the HTTP doors turn into problem+json, or gives
the state a "serve" policy lets through, which the doors put in ``Identifier-Status``.
The wire door does not refuse: it answers the values with an HS_STATUS value added.
"""

from __future__ import annotations

from typing import Any

from core.errors import (
    IdentifierExpired,
    IdentifierNotYetValid,
    IdentifierRevoked,
    IdentifierSuspended,
)
from core.lifecycle import (
    ACTIVE,
    EXPIRED,
    NOT_YET_VALID,
    REVOKED,
    SERVE,
    SUSPENDED,
    Lifecycle,
    build,
    needs_policy,
)
from resolver.cache import Record
from tenants.accounts.tables import Tenant

_REFUSALS = {
    REVOKED: (IdentifierRevoked, "was revoked"),
    EXPIRED: (IdentifierExpired, "has expired"),
    SUSPENDED: (IdentifierSuspended, "is suspended"),
    NOT_YET_VALID: (IdentifierNotYetValid, "is not valid yet"),
}


def admit(record: Record, now: float | None = None) -> str | None:
    """None when the record answers as usual; the state when its tenant's policy serves
    it anyway; raises the refusal otherwise."""
    lifecycle = record.lifecycle
    if lifecycle is None:
        return None
    state = lifecycle.state(now)
    if state == ACTIVE:
        return None
    if lifecycle.policy(state) == SERVE:
        return state
    cls, what = _REFUSALS[state]
    extra = lifecycle.describe(state)
    when = extra["validFrom"] if state == NOT_YET_VALID else extra["statusSince"]
    detail = f"identifier {record.handle} {what}" + (f" ({when})" if when else "")
    if lifecycle.reason and state in (REVOKED, SUSPENDED):
        detail += f": {lifecycle.reason}"
    raise cls(detail, handle=record.handle, extra=extra)


async def lifecycle_of(tenant_id: int, row: dict[str, Any]) -> Lifecycle | None:
    """The row's Lifecycle with its tenant's policy; the tenant is read only for the
    few records that carry lifecycle data. A policy change publishes ``tenant:``, which
    drops every cached record, so the policy baked in here never outlives it."""
    if not needs_policy(row):
        return None
    policy = (
        await Tenant.select(Tenant.lifecycle_suspended, Tenant.lifecycle_expired)
        .where(Tenant.id == tenant_id)
        .first()
        .run()
    ) or {}
    return build(
        row,
        policy.get("lifecycle_suspended") or "refuse",
        policy.get("lifecycle_expired") or "refuse",
    )
