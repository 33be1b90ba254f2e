"""Tenant console, cross-enterprise grants: the grants this tenant gave (create, revoke)
and the grants it received. Every handler starts with ``require_member``, so another
tenant's console and grant ids are simply not found."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from core.errors import IdnestError
from portal.web.common import describe_error, flash, page, pop_flash, redirect, require_member
from portal.web.console import console_base, refuse_readonly
from tenants.accounts.services.tenants import get_by_prefix
from tenants.grants.services.grants import (
    KINDS,
    create_grant,
    list_given,
    list_received,
    revoke_grant,
)


async def _page(request: Request[Any, Any, Any], m: Any, *, error: str = "",
                status: int = 200) -> Response[str]:  # fmt: skip
    return await page(
        request,
        "console/grants.html",
        status=status,
        m=m,
        given=await list_given(m.tenant_id),
        received=await list_received(m.tenant_id),
        kinds=KINDS,
        error=error,
        flash=pop_flash(request),
    )


@get("/console/{prefix:str}/grants", include_in_schema=False)
async def grants(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[str]:
    _v, m = await require_member(request, prefix)
    return await _page(request, m)


@post("/console/{prefix:str}/grants", include_in_schema=False)
async def grant_create(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[Any]:
    _v, m = await require_member(request, prefix)
    refuse_readonly(m)
    form = await request.form()
    try:
        await create_grant(
            await get_by_prefix(m.prefix),
            str(form.get("to") or "")[:255],
            kind=str(form.get("kind") or ""),
            selector=str(form.get("selector") or "")[:255],
            client_id=str(form.get("client") or "")[:128],
            actor=f"user:{m.user_id}",
        )
    except IdnestError as exc:
        return await _page(request, m, error=describe_error(request, exc), status=400)
    flash(request, "The grant has been made.")
    return redirect(f"{console_base(m)}/grants")


@post("/console/{prefix:str}/grants/{grant_id:str}/revoke", include_in_schema=False)
async def grant_revoke(
    request: Request[Any, Any, Any], prefix: FromPath[str], grant_id: FromPath[str]
) -> Response[Any]:
    _v, m = await require_member(request, prefix)
    refuse_readonly(m)
    try:
        await revoke_grant(m.tenant_id, grant_id, actor=f"user:{m.user_id}")
    except IdnestError:
        raise NotFoundException() from None
    flash(request, "The grant has been revoked.")
    return redirect(f"{console_base(m)}/grants")


ROUTES = [grants, grant_create, grant_revoke]
