"""Who may see which values: the role behind a principal.

Members' roles travel as a ``role:<name>`` scope (SNMS accounts). API keys have no
role: a key with the write scope acts as a developer, a read-only key as a viewer.
Viewers see public values only; developers, admins and owners see every value of
their own tenant; staff see everything, and their cross-tenant searches are audited.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.auth import Principal
from core.errors import AuthenticationNeeded, HandleNotFound, InsufficientPermissions
from core.identifiers import Handle, is_under, parse_handle
from core.tenancy import tenant_transaction
from core.values import HandleValue, load_values
from tenants.accounts.services.tenants import find_by_prefix
from tenants.accounts.tables import CLOSED_STATUSES
from tenants.grants.services.access import grants_for
from tenants.identifiers.tables import Identifier

PRIVILEGED = frozenset({"owner", "admin", "developer", "staff"})


def role_of(principal: Principal) -> str:
    if principal.is_staff:
        return "staff"
    for scope in principal.scopes:
        if scope.startswith("role:"):
            return scope[5:]
    return "developer" if principal.can("write") else "viewer"


def sees_private(principal: Principal) -> bool:
    return role_of(principal) in PRIVILEGED


def visible(principal: Principal, values: list[HandleValue]) -> list[HandleValue]:
    if sees_private(principal):
        return values
    return [v for v in values if v.public_read]


@dataclass(frozen=True, slots=True)
class Record:
    handle: str
    values: list[HandleValue]


async def read_record(principal: Principal | None, handle_text: str) -> Record:
    """One record of the caller's own tenant, filtered by the caller's role."""
    if principal is None:
        raise AuthenticationNeeded("not logged in")
    handle = parse_handle(handle_text)
    if principal.tenant_prefix is None or not is_under(handle.prefix, principal.tenant_prefix):
        return await _partner_read(principal, handle)
    assert principal.tenant_id is not None
    row = await _row(principal.tenant_id, handle)
    if row is None:
        raise HandleNotFound(f"handle {handle.text} does not exist", handle=handle.text)
    return Record(row["handle"], visible(principal, load_values(row["values"])))


async def _row(tenant_id: int, handle: Handle) -> dict | None:
    async with tenant_transaction(tenant_id, write=False):
        return await (
            Identifier.select(Identifier.handle, Identifier.values)
            .where((Identifier.tenant_id == tenant_id) & (Identifier.handle_key == handle.key))
            .first()
            .run()
        )


async def owner_of(prefix: str) -> int | None:
    """The open tenant serving a prefix or one of its parents (derived prefixes)."""
    candidate = prefix
    while candidate:
        tenant = await find_by_prefix(candidate)
        if tenant is not None:
            return None if tenant.status in CLOSED_STATUSES else tenant.id
        candidate = candidate.rpartition(".")[0]
    return None


async def _partner_read(principal: Principal, handle: Handle) -> Record:
    """Another tenant's record, as far as that tenant's grants to the caller reach
    (tenants/grants); a record no grant names is refused like any other tenant's."""
    refused = InsufficientPermissions(
        f"these credentials act for {principal.tenant_prefix or 'no tenant'}, "
        f"not for {handle.prefix}",
        handle=handle.text,
    )
    owner = await owner_of(handle.prefix) if sees_private(principal) else None
    grants = await grants_for(owner, principal) if owner is not None else None
    if owner is None or grants is None:
        raise refused
    row = await _row(owner, handle)
    values = load_values(row["values"]) if row is not None else []
    if row is None or not grants.covers(row["handle"], values):
        raise refused
    return Record(row["handle"], grants.reveal(row["handle"], values))
