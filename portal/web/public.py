"""Public pages: signup, email confirmation, the applicant's application, accounts."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from core.errors import IdnestError
from core.settings import get_settings
from portal.web import throttle
from portal.web.common import (
    Redirected,
    bind_cookie,
    current_viewer,
    error_text,
    flash,
    gettext_for,
    page,
    pending_uid,
    pop_flash,
    redirect,
    require_user,
    session,
    start_session,
)
from tenants.onboarding import people, service
from tenants.onboarding.validation import (
    Checked,
    check_application,
    check_licence,
    divisions,
)

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
    await service.check_unique(checked)
    if not checked.errors and await people.authenticate_exists(checked.values["contact_email"]):
        checked.fail("contact_email", "An account with this email already exists; log in.")
    if checked.errors:
        return await _form_page(request, "signup.html", {**values, **checked.values}, checked, 400)
    assert licence is not None and ctype is not None
    try:
        user_id, _app = await service.sign_up(
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
        await service.confirm_email(token)
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
    app = await service.application_of_user(viewer.id)
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
    app = await service.application_of_user(viewer.id)
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
    from tenants.onboarding import tokens

    token = await tokens.issue(
        "confirm", app["contact_email"], user_id=viewer.id, payload={"app": app["id"]}
    )
    await service.send_confirmation(app["contact_email"], token)
    flash(request, "We sent a confirmation link to your email.")
    return redirect("/application")


async def _editable(request: Request[Any, Any, Any]) -> tuple[Any, dict[str, Any]]:
    viewer = await require_user(request)
    app = await service.application_of_user(viewer.id)
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
    await service.check_unique(checked, except_id=app["id"])
    if checked.errors:
        return await _form_page(
            request, "application_edit.html", {**values, **checked.values}, checked, 400, app=app
        )
    new = (licence[0], ctype, licence[1]) if licence and ctype else None
    await service.resubmit(app["id"], viewer.id, checked.values, new)
    flash(request, "Your application has been resubmitted.")
    return redirect("/application")


# --- accounts -----------------------------------------------------------------


@get("/login", include_in_schema=False)
async def login_form(request: Request[Any, Any, Any]) -> Response[str]:
    return await page(
        request,
        "login.html",
        request_next=_safe_next(request),
        email="",
        error="",
        flash=pop_flash(request),
        oidc=bool(get_settings().oidc_issuer),
    )


@post("/login", include_in_schema=False)
async def login(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await request.form()
    email = str(form.get("email") or "").strip().lower()
    password = str(form.get("password") or "")
    client = request.client.host if request.client else "?"
    _ = gettext_for(request)
    if not await throttle.allowed(email, client):
        return await page(
            request,
            "login.html",
            status=429,
            request_next=_safe_next(request),
            email=email,
            error=_("Too many failed attempts. Wait a minute and try again."),
        )
    user = await people.authenticate(email, password)
    if user is None:
        await throttle.failed(email, client)
        return await page(
            request,
            "login.html",
            status=400,
            request_next=_safe_next(request),
            email=email,
            error=_("The email or password is wrong."),
        )
    if user["is_staff"] and get_settings().staff_totp_required:
        await start_session(request, {"uid": user["id"], "pending_totp": True})
        nxt = "/login/totp" if await people.totp_enabled(user["id"]) else "/staff/totp"
        return bind_cookie(request, redirect(nxt))
    await start_session(request, {"uid": user["id"]})
    user_view = await people.memberships(user["id"])
    landing = f"/console/{user_view[0].prefix}" if user_view else "/application"
    return bind_cookie(request, redirect(_safe_next(request) or landing))


def _safe_next(request: Request[Any, Any, Any]) -> str:
    nxt = request.query_params.get("next", "")
    # Local paths only: "//host" and "/\\host" are other sites to a browser.
    if not nxt.startswith("/") or nxt[1:2] in ("/", "\\") or any(c in nxt for c in "\r\n"):
        return ""
    return nxt


@get("/login/totp", include_in_schema=False)
async def totp_form(request: Request[Any, Any, Any]) -> Response[Any]:
    if not session(request).get("pending_totp") or pending_uid(request) is None:
        return redirect("/login")
    return await page(request, "totp.html", error="", secret="")


@post("/login/totp", include_in_schema=False)
async def totp_check(request: Request[Any, Any, Any]) -> Response[Any]:
    uid = pending_uid(request)
    if not session(request).get("pending_totp") or uid is None:
        return redirect("/login")
    code = str((await request.form()).get("code") or "")
    client = request.client.host if request.client else "?"
    _ = gettext_for(request)
    if not await throttle.allowed(f"totp:{uid}", client) or not await people.totp_verify(uid, code):
        await throttle.failed(f"totp:{uid}", client)
        return await page(
            request, "totp.html", status=400, error=_("The code is wrong."), secret=""
        )
    await start_session(request, {"uid": uid, "totp_ok": True})
    return bind_cookie(request, redirect("/staff"))


@post("/logout", include_in_schema=False)
async def logout(request: Request[Any, Any, Any]) -> Response[Any]:
    request.clear_session()
    return redirect("/login")


@get("/password/forgot", include_in_schema=False)
async def forgot_form(request: Request[Any, Any, Any]) -> Response[str]:
    return await page(request, "forgot.html", sent=False)


@post("/password/forgot", include_in_schema=False)
async def forgot(request: Request[Any, Any, Any]) -> Response[str]:
    email = str((await request.form()).get("email") or "")
    client = request.client.host if request.client else "?"
    # The answer is the same either way, so it tells nothing about the account.
    if await throttle.mail_allowed("reset", email, client):
        await people.request_reset(email, service.base_url())
    return await page(request, "forgot.html", sent=True)


@get("/password/reset/{token:str}", include_in_schema=False)
async def reset_form(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[str]:
    return await page(request, "reset.html", token=token, error="")


@post("/password/reset/{token:str}", include_in_schema=False)
async def reset(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[Any]:
    form = await request.form()
    password = str(form.get("password") or "")
    _ = gettext_for(request)
    if password != str(form.get("password2") or ""):
        return await page(
            request, "reset.html", status=400, token=token, error=_("The passwords differ.")
        )
    try:
        await people.reset_password(token, password)
    except IdnestError as exc:
        msg = (
            "The password must have at least 10 characters."
            if exc.field == "password"
            else "This link is not valid or has already been used."
        )
        return await page(request, "reset.html", status=400, token=token, error=_(msg))
    request.set_session({"flash": "Your password has been changed. Log in."})
    return redirect("/login")


@get("/invite/{token:str}", include_in_schema=False)
async def invite_form(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[str]:
    from tenants.onboarding import tokens

    try:
        row = await tokens.peek("invite", token)
    except IdnestError:
        return await page(
            request,
            "message.html",
            status=400,
            title="Link not valid",
            message="This link is not valid or has already been used.",
        )
    exists = await people.authenticate_exists(row["email"])
    return await page(
        request, "invite.html", token=token, email=row["email"], exists=exists, error=""
    )


@post("/invite/{token:str}", include_in_schema=False)
async def accept_invite(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[Any]:
    form = await request.form()
    _ = gettext_for(request)
    try:
        await people.accept_invite(token, str(form.get("password") or ""))
    except IdnestError as exc:
        msg = (
            "The password must have at least 10 characters."
            if exc.field == "password"
            else "This link is not valid or has already been used."
        )
        return await page(request, "message.html", status=400, title="Link not valid", message=msg)
    request.set_session({"flash": "You have joined. Log in."})
    return redirect("/login")


ROUTES = [
    home,
    signup_form,
    signup,
    confirm,
    my_application,
    resend_confirmation,
    edit_application,
    save_application,
    login_form,
    login,
    totp_form,
    totp_check,
    logout,
    forgot_form,
    forgot,
    reset_form,
    reset,
    invite_form,
    accept_invite,
]
