"""Public pages: signup, email confirmation, the applicant's application, accounts."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from core.errors import IdnestError
from core.industries import divisions
from portal.web import throttle
from portal.web.common import (
    Redirected,
    bind_cookie,
    current_viewer,
    error_text,
    flash,
    gettext_for,
    page,
    pop_flash,
    redirect,
    require_user,
    start_session,
)
from tenants.onboarding.services import applications, people
from tenants.onboarding.services.validation import Checked, check_application, check_licence

MAX_FORM = 12 * 1024 * 1024
_FIELDS = [
    "company_name",
    "short_name",
    "credit_code",
    "region",
    "address",
    "contact_name",
    "contact_mobile",
    "contact_email",
    "contact_id",
    "preferred_code",
    "endpoints",
]


async def _read_form(request: Request[Any, Any, Any]) -> tuple[dict[str, str], Any]:
    form = await request.form()
    values = {k: str(form.get(k) or "") for k in (*_FIELDS, "password", "password2")}
    values["industries"] = ",".join(str(v) for v in form.getall("industries", []))
    upload = form.get("licence")
    licence = None
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read()
        licence = (upload.filename, data)
    return values, licence


def _sections() -> list[tuple[str, str, str, list[Any]]]:
    out: dict[str, tuple[str, str, str, list[Any]]] = {}
    for d in divisions():
        out.setdefault(d.section, (d.section, d.section_zh, d.section_en, []))[3].append(d)
    return list(out.values())


async def _form_page(
    request: Request[Any, Any, Any],
    template: str,
    values: dict[str, str],
    checked: Checked | None = None,
    status: int = 200,
    **ctx: Any,
) -> Response[str]:
    _ = gettext_for(request)
    safe = {k: v for k, v in values.items() if not k.startswith("password")}
    return await page(
        request,
        template,
        status=status,
        values=safe,
        chosen=set(values.get("industries", "").split(",")),
        errors=error_text(_, checked.errors) if checked else {},
        sections=_sections(),
        **ctx,
    )


@get("/", include_in_schema=False)
async def home(request: Request[Any, Any, Any]) -> Response[Any]:
    viewer = await current_viewer(request)
    if viewer is not None:
        return redirect(_landing(viewer))
    return await page(request, "home.html")


def _landing(viewer: Any) -> str:
    if viewer.is_staff:
        return "/staff"
    if viewer.members:
        return f"/console/{viewer.members[0].prefix}"
    return "/application"


@get(["/signup", "/register", "/apply"], include_in_schema=False)
async def signup_form(request: Request[Any, Any, Any]) -> Response[str]:
    return await _form_page(request, "signup.html", {})


@post("/signup", include_in_schema=False, request_max_body_size=MAX_FORM)
async def signup(request: Request[Any, Any, Any]) -> Response[Any]:
    values, licence = await _read_form(request)
    checked = check_application(values, need_password=True)
    ctype = check_licence(licence[1] if licence else None, required=True, out=checked)
    await applications.check_unique(checked)
    if not checked.errors and await people.authenticate_exists(checked.values["contact_email"]):
        checked.fail("contact_email", "An account with this email already exists; log in.")
    if checked.errors:
        return await _form_page(request, "signup.html", {**values, **checked.values}, checked, 400)
    assert licence is not None and ctype is not None
    try:
        user_id, _app = await applications.sign_up(
            checked.values, values["password"], (licence[0], ctype, licence[1])
        )
    except IdnestError as exc:
        checked.fail(
            exc.field or "credit_code", "An application with this credit code already exists."
        )
        return await _form_page(request, "signup.html", values, checked, 409)
    await start_session(
        request, {"uid": user_id, "flash": "We sent a confirmation link to your email."}
    )
    return bind_cookie(request, redirect("/application"))


@get("/confirm/{token:str}", include_in_schema=False)
async def confirm(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[str]:
    try:
        await applications.confirm_email(token)
    except IdnestError:
        return await page(
            request,
            "message.html",
            status=400,
            title="Link not valid",
            message="This link is not valid or has already been used.",
        )
    return await page(
        request,
        "message.html",
        title="Email confirmed",
        message="Your email is confirmed and your application is submitted.",
        link="/application",
    )


@get("/application", include_in_schema=False)
async def my_application(request: Request[Any, Any, Any]) -> Response[Any]:
    viewer = await require_user(request)
    app = await applications.application_of_user(viewer.id)
    if app is None:
        return (
            redirect(_landing(viewer))
            if (viewer.is_staff or viewer.members)
            else redirect("/signup")
        )
    return await page(
        request,
        "application.html",
        app=app,
        flash=pop_flash(request),
        division_names={d.code: d.name_zh for d in divisions()},
    )


@post("/application/resend", include_in_schema=False)
async def resend_confirmation(request: Request[Any, Any, Any]) -> Response[Any]:
    viewer = await require_user(request)
    app = await applications.application_of_user(viewer.id)
    if app is None or app["email_confirmed_at"] is not None:
        raise NotFoundException()
    client = request.client.host if request.client else "?"
    if not await throttle.mail_allowed("confirm", app["contact_email"], client):
        return await page(
            request,
            "message.html",
            status=429,
            title="Your application",
            message="Too many requests. Wait a minute and try again.",
            link="/application",
        )
    from tenants.onboarding.services import tokens

    token = await tokens.issue(
        "confirm", app["contact_email"], user_id=viewer.id, payload={"app": app["id"]}
    )
    await applications.send_confirmation(app["contact_email"], token)
    flash(request, "We sent a confirmation link to your email.")
    return redirect("/application")


async def _editable(request: Request[Any, Any, Any]) -> tuple[Any, dict[str, Any]]:
    viewer = await require_user(request)
    app = await applications.application_of_user(viewer.id)
    if app is None or app["status"] not in ("draft", "rejected"):
        raise Redirected("/application")
    return viewer, app


@get("/application/edit", include_in_schema=False)
async def edit_application(request: Request[Any, Any, Any]) -> Response[str]:
    _viewer, app = await _editable(request)
    values = {k: str(app.get(k) or "") for k in _FIELDS if k != "contact_id"}
    values["industries"] = app["industries"]
    return await _form_page(request, "application_edit.html", values, app=app)


@post("/application/edit", include_in_schema=False, request_max_body_size=MAX_FORM)
async def save_application(request: Request[Any, Any, Any]) -> Response[Any]:
    viewer, app = await _editable(request)
    values, licence = await _read_form(request)
    values["contact_email"] = app["contact_email"]
    checked = check_application(values, need_password=False)
    ctype = check_licence(licence[1] if licence else None, required=False, out=checked)
    await applications.check_unique(checked, except_id=app["id"])
    if checked.errors:
        return await _form_page(
            request, "application_edit.html", {**values, **checked.values}, checked, 400, app=app
        )
    new = (licence[0], ctype, licence[1]) if licence and ctype else None
    await applications.resubmit(app["id"], viewer.id, checked.values, new)
    flash(request, "Your application has been resubmitted.")
    return redirect("/application")


# --- accounts -----------------------------------------------------------------


ROUTES = [
    home,
    signup_form,
    signup,
    confirm,
    my_application,
    resend_confirmation,
    edit_application,
    save_application,
]
