"""The staff console's staff users (admins only): list, create, roles, TOTP reset."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from core.errors import IdnestError
from core.limits import DbId
from portal.web.common import (
    error_text,
    flash,
    gettext_for,
    page,
    pop_flash,
    redirect,
    require_staff,
)
from tenants.accounts.services.users import STAFF_ROLES, create_staff
from tenants.onboarding.services import people


@get("/staff/users", include_in_schema=False)
async def staff_users(request: Request[Any, Any, Any]) -> Response[str]:
    await require_staff(request, "admin")
    return await page(
        request,
        "staff/users.html",
        users=await people.list_staff(),
        roles=STAFF_ROLES,
        errors={},
        values={},
        flash=pop_flash(request),
    )


@post("/staff/users", include_in_schema=False)
async def staff_user_create(request: Request[Any, Any, Any]) -> Response[Any]:
    viewer = await require_staff(request, "admin")
    form = await request.form()
    email = str(form.get("email") or "")
    roles = [str(r) for r in form.getall("roles", [])]
    try:
        await create_staff(email, str(form.get("password") or ""), roles=roles)
    except IdnestError as exc:
        _ = gettext_for(request)
        errors = error_text(_, {exc.field or "email": (exc.detail, {})})
        return await page(
            request,
            "staff/users.html",
            status=400,
            users=await people.list_staff(),
            roles=STAFF_ROLES,
            errors=errors,
            values={"email": email},
            flash="",
        )
    flash(request, "The staff user has been created.")
    del viewer
    return redirect("/staff/users")


@post("/staff/users/{user_id:int}/roles", include_in_schema=False)
async def staff_user_roles(request: Request[Any, Any, Any], user_id: DbId) -> Response[Any]:
    viewer = await require_staff(request, "admin")
    roles = [str(r) for r in (await request.form()).getall("roles", [])]
    try:
        await people.set_staff_roles(user_id, roles, actor=f"staff:{viewer.id}")
        flash(request, "The roles have been saved.")
    except IdnestError:
        flash(request, "Choose at least one role.")
    return redirect("/staff/users")


@post("/staff/users/{user_id:int}/totp-reset", include_in_schema=False)
async def staff_totp_reset(request: Request[Any, Any, Any], user_id: DbId) -> Response[Any]:
    viewer = await require_staff(request, "admin")
    await people.totp_reset(user_id, actor=f"staff:{viewer.id}")
    flash(request, "The one-time password has been reset; it is set up again at next login.")
    return redirect("/staff/users")


ROUTES = [staff_users, staff_user_create, staff_user_roles, staff_totp_reset]
