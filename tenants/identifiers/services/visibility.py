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
from core.identifiers import is_under, parse_handle
from core.tenancy import tenant_transaction
from core.values import HandleValue, load_values
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
        raise InsufficientPermissions(
            f"these credentials act for {principal.tenant_prefix or 'no tenant'}, "
            f"not for {handle.prefix}",
            handle=handle.text,
        )
    async with tenant_transaction(principal.tenant_id, write=False):
        row = (
            await Identifier.select(Identifier.handle, Identifier.values)
            .where(
                (Identifier.tenant_id == principal.tenant_id)
                & (Identifier.handle_key == handle.key)
            )
            .first()
            .run()
        )
    if row is None:
        raise HandleNotFound(f"handle {handle.text} does not exist", handle=handle.text)
    return Record(row["handle"], visible(principal, load_values(row["values"])))
