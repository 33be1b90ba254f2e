"""Grants over HTTP, for the owner's credentials: ``POST /api/grants`` (write),
``GET /api/grants`` (given and received), ``DELETE /api/grants/{grant_id}`` (revoke)."""

from __future__ import annotations

from litestar import delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from core.auth import Principal
from core.errors import InsufficientPermissions, InvalidValue
from tenants.accounts.services.tenants import get_by_prefix
from tenants.grants.schemas import GrantCreate, GrantList, GrantOut
from tenants.grants.services import grants


def _tenant(caller: Principal, scope: str) -> int:
    if caller.tenant_id is None or caller.is_staff or not caller.can(scope):
        raise InsufficientPermissions(f"managing grants needs a tenant's credential with {scope}")
    return caller.tenant_id


@post("/api/grants", tags=["Grants"], summary="Grant a partner tenant read access",
      status_code=201)  # fmt: skip
async def create_grant(caller: NamedDependency[Principal], data: JSONBody[GrantCreate]) -> GrantOut:
    _tenant(caller, "write")
    chosen = [(k, v) for k, v in (("pattern", data.pattern), ("template", data.template),
                                  ("type", data.type)) if v is not None]  # fmt: skip
    if len(chosen) != 1:
        raise InvalidValue("give exactly one of pattern, template, type", field="pattern")
    owner = await get_by_prefix(caller.tenant_prefix or "")
    info = await grants.create_grant(owner, data.to, kind=chosen[0][0], selector=chosen[0][1],
                                     client_id=data.client, actor=caller.actor)  # fmt: skip
    return GrantOut.of(info)


@get("/api/grants", tags=["Grants"], summary="The grants this tenant gave and received")
async def list_grants(caller: NamedDependency[Principal]) -> GrantList:
    tenant_id = _tenant(caller, "read")
    given = await grants.list_given(tenant_id)
    received = await grants.list_received(tenant_id)
    return GrantList([GrantOut.of(g) for g in given], [GrantOut.of(g) for g in received])


@delete("/api/grants/{grant_id:str}", tags=["Grants"], summary="Revoke a grant this tenant gave",
        status_code=200)  # fmt: skip
async def revoke_grant(caller: NamedDependency[Principal], grant_id: FromPath[str]) -> GrantOut:
    tenant_id = _tenant(caller, "write")
    return GrantOut.of(await grants.revoke_grant(tenant_id, grant_id, actor=caller.actor))


ROUTES = [create_grant, list_grants, revoke_grant]
