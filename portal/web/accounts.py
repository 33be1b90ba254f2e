"""Accounts: login (with throttling and staff TOTP), logout, password reset, invitations.

A successful login starts a session bound to a per-login secret (see
`common.start_session`), and honours only local ``?next=`` paths.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath

from core import audit
from core.codes import mask_email
from core.errors import IdnestError
from core.settings import get_settings
from portal.web import throttle
from portal.web.common import (
    bind_cookie,
    gettext_for,
    page,
    pending_uid,
    pop_flash,
    redirect,
    session,
    start_session,
)
from tenants.onboarding.services import applications, people


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
    user, outcome = await people.check_login(email, password)
    if user is None:
        await throttle.failed(email, client)
        detail = {"source": client, "reason": outcome}
        await audit.record(actor=f"login:{mask_email(email)}", action="login.failed",
                           target="portal", detail=detail)  # fmt: skip
        reason = (
            "This account is disabled. Ask your administrator to enable it."
            if outcome == "disabled"
            else "The email or password is wrong."
        )
        return await page(
            request,
            "login.html",
            status=400,
            request_next=_safe_next(request),
            email=email,
            error=_(reason),
        )
    await audit.record(actor=f"user:{user['id']}", action="login", target="portal",
                       detail={"source": client})  # fmt: skip
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
        await people.request_reset(email, applications.base_url())
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
    from tenants.onboarding.services import tokens

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
