"""Tenant console, machine clients: OAuth2 clients of the tenant, the secret shown once.

Write roles create and revoke clients; every handler starts with ``require_member``, so
another tenant's client ids are simply not found. The services audit each change.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, PathParameter

from core.errors import IdnestError
from portal.web.common import describe_error, flash, page, pop_flash, redirect, require_member
from portal.web.console import console_base, refuse_readonly
from tenants.clients.services.clients import create_client, list_clients, revoke_client

PAGE = "console/clients.html"


async def _page(request: Request[Any, Any, Any], m: Any, **kw: Any) -> Response[str]:
    kw.setdefault("new", None)
    kw.setdefault("flash", "")
    kw.setdefault("error", "")
    return await page(request, PAGE, m=m, clients=await list_clients(m.tenant_id), **kw)


@get("/console/{prefix:str}/clients", include_in_schema=False)
async def clients_page(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[str]:
    _v, m = await require_member(request, prefix)
    return await _page(request, m, flash=pop_flash(request))


@post("/console/{prefix:str}/clients", include_in_schema=False)
async def create_machine_client(
    request: Request[Any, Any, Any], prefix: FromPath[str]
) -> Response[str]:
    _v, m = await require_member(request, prefix)
    refuse_readonly(m)
    form = await request.form()
    scopes = ",".join(str(s) for s in form.getall("scopes", [])[:2]) or "read"
    try:
        secret, info = await create_client(
            m.prefix,
            name=str(form.get("name") or ""),
            scopes=scopes,
            allowed_ips=str(form.get("allowed_ips") or "")[:2000].replace("\n", ",").split(","),
            actor=f"user:{m.user_id}",
        )
    except IdnestError as exc:
        return await _page(request, m, status=400, error=describe_error(request, exc))
    return await _page(request, m, new={"client_id": info.client_id, "secret": secret})


@post("/console/{prefix:str}/clients/{client_id:str}/revoke", include_in_schema=False)
async def revoke_machine_client(
    request: Request[Any, Any, Any],
    prefix: FromPath[str],
    client_id: Annotated[str, PathParameter(max_length=64)],
) -> Response[Any]:
    _v, m = await require_member(request, prefix)
    refuse_readonly(m)
    try:
        await revoke_client(m.tenant_id, client_id, actor=f"user:{m.user_id}")
    except IdnestError:
        raise NotFoundException() from None
    flash(request, "The client has been revoked.")
    return redirect(f"{console_base(m)}/clients")


ROUTES = [clients_page, create_machine_client, revoke_machine_client]
