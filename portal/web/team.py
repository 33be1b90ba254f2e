"""Tenant console, people and credentials: API keys (shown once) and members.

Owners and admins manage members; write roles create and revoke keys. Every handler
starts with `require_member`, so another tenant's ids are simply not found.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath

from core.errors import IdnestError
from core.limits import DbId
from portal.web.common import (
    describe_error,
    flash,
    page,
    pop_flash,
    redirect,
    require_member,
)
from portal.web.console import console_base, refuse_readonly
from tenants.accounts.services.apikeys import create_key, list_keys, revoke_key
from tenants.accounts.tables import MEMBER_ROLES
from tenants.onboarding.services import applications, people


@get("/console/{prefix:str}/keys", include_in_schema=False)
async def keys(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[str]:
    _v, m = await require_member(request, prefix)
    return await page(
        request,
        "console/keys.html",
        m=m,
        keys=await list_keys(m.tenant_id),
        new_key="",
        flash=pop_flash(request),
    )


@post("/console/{prefix:str}/keys", include_in_schema=False)
async def create_api_key(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[str]:
    _v, m = await require_member(request, prefix)
    refuse_readonly(m)
    form = await request.form()
    scopes = ",".join(str(s) for s in form.getall("scopes", [])) or "read"
    plaintext, _info = await create_key(
        m.prefix, scopes=scopes, name=str(form.get("name") or ""), actor=f"user:{m.user_id}"
    )
    return await page(
        request,
        "console/keys.html",
        m=m,
        keys=await list_keys(m.tenant_id),
        new_key=plaintext,
        flash="",
    )


@post("/console/{prefix:str}/keys/{key_id:str}/revoke", include_in_schema=False)
async def revoke_api_key(
    request: Request[Any, Any, Any], prefix: FromPath[str], key_id: FromPath[str]
) -> Response[Any]:
    _v, m = await require_member(request, prefix)
    refuse_readonly(m)
    try:
        await revoke_key(m.tenant_id, key_id, actor=f"user:{m.user_id}")
    except IdnestError:
        raise NotFoundException() from None
    flash(request, "The key has been revoked.")
    return redirect(f"{console_base(m)}/keys")


@get("/console/{prefix:str}/members", include_in_schema=False)
async def members(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[str]:
    _v, m = await require_member(request, prefix)
    return await page(
        request,
        "console/members.html",
        m=m,
        roles=MEMBER_ROLES,
        members=await people.list_members(m.tenant_id),
        flash=pop_flash(request),
        error="",
    )


@post("/console/{prefix:str}/members", include_in_schema=False)
async def invite_member(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[Any]:
    _v, m = await require_member(request, prefix)
    if not m.can_manage:
        raise PermissionDeniedException("only owners and admins manage members")
    form = await request.form()
    try:
        await people.invite(
            m, str(form.get("email") or ""), str(form.get("role") or ""), applications.base_url()
        )
    except IdnestError as exc:
        return await page(
            request,
            "console/members.html",
            status=400,
            m=m,
            roles=MEMBER_ROLES,
            members=await people.list_members(m.tenant_id),
            flash="",
            error=describe_error(request, exc),
        )
    flash(request, "The invitation has been sent.")
    return redirect(f"{console_base(m)}/members")


@post("/console/{prefix:str}/members/{membership_id:int}/remove", include_in_schema=False)
async def remove_member(
    request: Request[Any, Any, Any], prefix: FromPath[str], membership_id: DbId
) -> Response[Any]:
    _v, m = await require_member(request, prefix)
    if not m.can_manage:
        raise PermissionDeniedException("only owners and admins manage members")
    try:
        await people.remove_member(m, membership_id)
    except IdnestError as exc:
        if exc.http_status == 404:
            raise NotFoundException() from None
        flash(request, "The last owner cannot be removed.")
        return redirect(f"{console_base(m)}/members")
    flash(request, "The member has been removed.")
    return redirect(f"{console_base(m)}/members")


@post("/console/{prefix:str}/members/{membership_id:int}/role", include_in_schema=False)
async def change_member_role(
    request: Request[Any, Any, Any], prefix: FromPath[str], membership_id: DbId
) -> Response[Any]:
    _v, m = await require_member(request, prefix)
    if not m.can_manage:
        raise PermissionDeniedException("only owners and admins manage members")
    role = str((await request.form()).get("role") or "")
    try:
        await people.change_role(m, membership_id, role)
    except IdnestError as exc:
        if exc.http_status == 404:
            raise NotFoundException() from None
        flash(request, "This role change is not allowed.")
        return redirect(f"{console_base(m)}/members")
    flash(request, "The roles have been saved.")
    return redirect(f"{console_base(m)}/members")


ROUTES = [
    keys,
    create_api_key,
    revoke_api_key,
    members,
    invite_member,
    remove_member,
    change_member_role,
]
