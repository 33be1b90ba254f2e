"""Rendering, language choice, the logged-in viewer and the page guards.

Pages are Jinja2 templates rendered here, with ``_`` bound to the request's language
catalogue and the CSRF token from Litestar's CSRF middleware. Guards raise exceptions
the portal router turns into redirects (not logged in) or plain 404s (not yours): a
user who edits a URL to reach another tenant learns nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Request, Response
from litestar.exceptions import NotFoundException
from litestar.response import Redirect
from litestar.utils.scope.state import ScopeState

from core.i18n import negotiate, translator
from core.settings import get_settings
from tenants.onboarding.services import people
from tenants.onboarding.services.people import Member

ROOT = Path(__file__).resolve().parent.parent
LOCALE_DIR = ROOT / "locale"
env = Environment(
    loader=FileSystemLoader(ROOT / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class LoginRequired(Exception):
    """Raised by a guard; the router answers with a redirect to the login page."""


class Redirected(Exception):
    def __init__(self, to: str) -> None:
        super().__init__(to)
        self.to = to


@dataclass
class Viewer:
    id: int
    email: str
    staff_roles: frozenset[str] = frozenset()
    members: list[Member] = field(default_factory=list)

    @property
    def is_staff(self) -> bool:
        return bool(self.staff_roles)


def lang_of(request: Request[Any, Any, Any]) -> str:
    return negotiate(
        request.query_params.get("lang"),
        request.cookies.get("lang"),
        request.headers.get("accept-language"),
    )


def gettext_for(request: Request[Any, Any, Any]) -> Any:
    return translator(LOCALE_DIR, lang_of(request))


def session(request: Request[Any, Any, Any]) -> dict[str, Any]:
    try:
        value = request.session
    except Exception:
        return {}
    return value if isinstance(value, dict) else {}


async def current_viewer(request: Request[Any, Any, Any]) -> Viewer | None:
    cached = request.scope.get("idnest_viewer")
    if isinstance(cached, Viewer):
        return cached
    sess = session(request)
    uid = sess.get("uid")
    if not uid or sess.get("pending_totp") or not bound(request, sess):
        return None
    user = await people.get_user(int(uid))
    if user is None or not user["is_active"]:
        return None
    if sess.get("pw") != password_mark(user["password_hash"]):
        return None  # the password changed since this session logged in
    viewer = Viewer(
        user["id"], user["email"], people.staff_roles(user), await people.memberships(user["id"])
    )
    request.scope["idnest_viewer"] = viewer  # type: ignore[typeddict-unknown-key]
    return viewer


async def require_user(request: Request[Any, Any, Any]) -> Viewer:
    viewer = await current_viewer(request)
    if viewer is None:
        raise LoginRequired()
    return viewer


async def require_staff(request: Request[Any, Any, Any], *roles: str) -> Viewer:
    """A staff user with one of ``roles`` (admin always passes) and TOTP set up."""
    viewer = await require_user(request)
    if not viewer.is_staff:
        raise NotFoundException()
    if get_settings().staff_totp_required and not session(request).get("totp_ok"):
        raise Redirected("/staff/totp")
    if roles and not (viewer.staff_roles & {*roles, "admin"}):
        raise NotFoundException()
    return viewer


async def require_member(request: Request[Any, Any, Any], prefix: str) -> tuple[Viewer, Member]:
    viewer = await require_user(request)
    for m in viewer.members:
        if m.prefix == prefix.lower():
            return viewer, m
    raise NotFoundException()


def pending_uid(request: Request[Any, Any, Any]) -> int | None:
    """The user id of a session that passed the password (TOTP may still be due)."""
    sess = session(request)
    uid = sess.get("uid")
    return int(uid) if uid and bound(request, sess) else None


def csrf_token(request: Request[Any, Any, Any]) -> str:
    token = ScopeState.from_scope(request.scope).csrf_token
    return token if isinstance(token, str) else ""


async def page(
    request: Request[Any, Any, Any], template: str, *, status: int = 200, **ctx: Any
) -> Response[str]:
    lang = lang_of(request)
    ctx.setdefault("errors", {})
    html = env.get_template(template).render(
        _=translator(LOCALE_DIR, lang),
        lang=lang,
        html_lang="zh-CN" if lang == "zh_CN" else "en",
        csrf_token=csrf_token(request),
        viewer=await current_viewer(request),
        path=request.url.path,
        node_name=get_settings().node_name,
        **ctx,
    )
    resp: Response[str] = Response(
        html,
        status_code=status,
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
            "Cache-Control": "no-store",
        },
    )
    chosen = request.query_params.get("lang")
    if chosen:
        resp.set_cookie(
            "lang",
            lang,
            max_age=365 * 86400,
            httponly=True,
            samesite="lax",
            secure=get_settings().secure_cookies,
        )
    return resp


BIND_COOKIE = "idnest_bind"


def password_mark(password_hash: str) -> str:
    """A short fingerprint of the password hash: changing the password ends sessions."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


async def start_session(request: Request[Any, Any, Any], data: dict[str, Any]) -> None:
    """Begin a logged-in session bound to a fresh secret in a second cookie.

    Litestar keeps the session id a client already presents, so an id planted before
    login (session fixation) would otherwise become a logged-in session. The bind
    secret is only ever sent to the browser that logged in, and `current_viewer`
    ignores a session whose bind secret the request does not carry. Call
    `bind_cookie` on the response that follows.
    """
    secret = secrets.token_urlsafe(24)
    user = await people.get_user(int(data["uid"]))
    mark = password_mark(user["password_hash"]) if user else ""
    request.set_session({**data, "bind": secret, "pw": mark})
    request.scope["idnest_bind"] = secret  # type: ignore[typeddict-unknown-key]


def bind_cookie(request: Request[Any, Any, Any], response: Any) -> Any:
    secret = request.scope.get("idnest_bind")
    if isinstance(secret, str):
        s = get_settings()
        response.set_cookie(
            BIND_COOKIE,
            secret,
            max_age=s.session_max_age,
            httponly=True,
            samesite="lax",
            secure=s.secure_cookies,
        )
    return response


def bound(request: Request[Any, Any, Any], sess: dict[str, Any]) -> bool:
    expected = sess.get("bind")
    given = request.cookies.get(BIND_COOKIE, "")
    return isinstance(expected, str) and hmac.compare_digest(expected, given)


def redirect(to: str) -> Redirect:
    return Redirect(path=to, status_code=303)


def flash(request: Request[Any, Any, Any], message: str) -> None:
    """A one-off notice (a message id) shown on the next page."""
    request.set_session({**session(request), "flash": message})


def pop_flash(request: Request[Any, Any, Any]) -> str:
    sess = session(request)
    if sess.get("flash"):
        message = str(sess["flash"])
        request.set_session({k: v for k, v in sess.items() if k != "flash"})
        return message
    return ""


_ERROR_MESSAGES = {
    "HandleAlreadyExists": "This identifier already exists.",
    "InvalidHandle": "The identifier is not valid.",
    "InvalidValue": "Some values are not valid.",
    "ValueAlreadyExists": "Some values are not valid.",
    "InsufficientPermissions": "Your tenant cannot change identifiers now.",
    "Conflict": "This conflicts with existing data.",
}


def describe_error(request: Request[Any, Any, Any], exc: Exception) -> str:
    """A translated sentence for a service error, with the service's own detail after it
    (the detail names the field or value, in English)."""
    _ = gettext_for(request)
    msgid = _ERROR_MESSAGES.get(type(exc).__name__, "The request could not be handled.")
    detail = getattr(exc, "detail", "")
    return f"{_(msgid)} ({detail})" if detail else _(msgid)


def error_text(_: Any, errors: dict[str, tuple[str, dict[str, object]]]) -> dict[str, str]:
    """Translate per-field errors for the template."""
    return {k: _(msgid, **params) for k, (msgid, params) in errors.items()}
