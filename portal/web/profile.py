"""Company profile pages: the tenant's side and the reviewer's decision on legal changes."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath

from core.errors import IdnestError
from portal.web.common import (
    error_text,
    flash,
    gettext_for,
    page,
    pop_flash,
    redirect,
    require_member,
    require_staff,
)
from tenants.accounts.services.tenants import find_by_prefix
from tenants.onboarding.services.applications import application_of_tenant
from tenants.onboarding.services.profile import CONTACT, LEGAL, decide_change, update_profile


@get("/console/{prefix:str}/profile", include_in_schema=False)
async def profile(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[str]:
    _v, m = await require_member(request, prefix)
    app = await application_of_tenant(m.tenant_id)
    values = {k: str(app.get(k) or "") for k in (*CONTACT, *LEGAL)} if app else {}
    return await page(
        request, "console/profile.html", m=m, app=app, values=values, flash=pop_flash(request)
    )


@post("/console/{prefix:str}/profile", include_in_schema=False)
async def save_profile(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[Any]:
    _v, m = await require_member(request, prefix)
    if not m.can_manage:
        raise PermissionDeniedException("only owners and admins edit the profile")
    form = await request.form()
    values = {k: str(form.get(k) or "") for k in (*CONTACT, *LEGAL)}
    try:
        checked = await update_profile(m.tenant_id, values, actor=f"user:{m.user_id}")
    except IdnestError:
        raise NotFoundException() from None
    if checked.errors:
        app = await application_of_tenant(m.tenant_id)
        return await page(
            request,
            "console/profile.html",
            status=400,
            m=m,
            app=app,
            values=values,
            errors=error_text(gettext_for(request), checked.errors),
            flash="",
        )
    flash(request, "Saved.")
    return redirect(f"/console/{m.prefix}/profile")


@post("/staff/tenants/{prefix:str}/profile/{decision:str}", include_in_schema=False)
async def decide_profile(
    request: Request[Any, Any, Any], prefix: FromPath[str], decision: FromPath[str]
) -> Response[Any]:
    viewer = await require_staff(request, "reviewer")
    tenant = await find_by_prefix(prefix)
    if tenant is None or decision not in ("accept", "reject"):
        raise NotFoundException()
    reason = str((await request.form()).get("reason") or "")
    try:
        await decide_change(
            tenant.id, accept=decision == "accept", actor=f"staff:{viewer.id}", reason=reason
        )
        flash(request, "Saved.")
    except IdnestError:
        flash(request, "Nothing here.")
    return redirect(f"/staff/tenants/{tenant.prefix}")


ROUTES = [profile, save_profile, decide_profile]
