"""The node's own data in the staff console: the operator's profile (admins edit it; a
change is sent to the top-level node) and requests for new industry templates."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from core import node
from core.errors import IdnestError
from core.industries import divisions
from portal.web.common import (
    error_text,
    flash,
    gettext_for,
    page,
    pop_flash,
    redirect,
    require_staff,
)


async def _profile_page(request: Request[Any, Any, Any], *, status: int = 200,
                        values: dict[str, str] | None = None,
                        errors: dict[str, str] | None = None) -> Response[str]:  # fmt: skip
    current, updated = await node.profile()
    return await page(
        request, "staff/node_profile.html", status=status,
        values=values or {f: getattr(current, f) for f in node.FIELDS}, updated=updated,
        node_types=node.NODE_TYPES, errors=errors or {}, flash=pop_flash(request),
    )  # fmt: skip


@get("/staff/node/profile", include_in_schema=False)
async def profile_form(request: Request[Any, Any, Any]) -> Response[str]:
    await require_staff(request, "admin")
    return await _profile_page(request)


@post("/staff/node/profile", include_in_schema=False)
async def profile_save(request: Request[Any, Any, Any]) -> Response[Any]:
    viewer = await require_staff(request, "admin")
    form = {k: str(v) for k, v in (await request.form()).items()}
    try:
        await node.save_profile(form, actor=f"staff:{viewer.id}")
    except IdnestError as exc:
        _ = gettext_for(request)
        errors = error_text(_, {exc.field or "node_name": (exc.detail, {})})
        return await _profile_page(request, status=400, values=form, errors=errors)
    flash(request, "The node profile has been saved and will be sent to the top-level node.")
    return redirect("/staff/node/profile")


@get("/staff/template-requests", include_in_schema=False)
async def requests_page(request: Request[Any, Any, Any]) -> Response[str]:
    await require_staff(request, "operator")
    return await page(
        request, "staff/template_requests.html", requests=await node.template_requests(),
        divisions=divisions(), values={}, errors={}, flash=pop_flash(request),
    )  # fmt: skip


@post("/staff/template-requests", include_in_schema=False)
async def request_create(request: Request[Any, Any, Any]) -> Response[Any]:
    viewer = await require_staff(request, "operator")
    form = await request.form()
    values = {k: str(form.get(k) or "") for k in ("industry", "name", "description")}
    try:
        await node.request_template(**values, actor=f"staff:{viewer.id}")
    except IdnestError as exc:
        _ = gettext_for(request)
        return await page(
            request, "staff/template_requests.html", status=400,
            requests=await node.template_requests(), divisions=divisions(), values=values,
            errors=error_text(_, {exc.field or "name": (exc.detail, {})}), flash="",
        )  # fmt: skip
    flash(request, "The request is queued for the top-level node.")
    return redirect("/staff/template-requests")


ROUTES = [profile_form, profile_save, requests_page, request_create]
