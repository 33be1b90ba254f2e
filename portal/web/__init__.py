"""The web portal: public signup, applicant pages, staff console, tenant console.

All pages live under one Router whose exception handlers answer in HTML: a guard's
LoginRequired becomes a redirect to /login, a 404 or 403 becomes a plain page that
names nothing about the thing asked for.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router
from litestar.exceptions import (
    HTTPException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.response import Redirect

from core.errors import IdnestError
from core.http import validation_detail
from core.i18n import translator
from core.settings import get_settings
from portal.web import (
    accounts,
    audit,
    batch,
    billing_console,
    billing_staff,
    clients,
    console,
    enterprise,
    exports,
    finance,
    grants_console,
    imports_staff,
    lifecycle,
    node_staff,
    operations,
    profile,
    public,
    schemes,
    search_staff,
    sso,
    staff,
    staff_users,
    statistics,
    team,
    templates_console,
    templates_staff,
    upstream_staff,
)
from portal.web.common import LOCALE_DIR, Redirected, env, lang_of
from portal.web.common import LoginRequired as LoginRequired

API_PATTERNS = [
    "^/api/",
    "^/identity",
    "^/snms/",
    "^/hrls/",
    "^/static/",
    "^/healthz",
    "^/readyz",
    "^/schema",
]


def _error_page(
    request: Request[Any, Any, Any], status: int, title: str, detail: str = "", retry: bool = False
) -> Response[str]:
    lang = lang_of(request)
    _ = translator(LOCALE_DIR, lang)
    html = env.get_template("error.html").render(
        _=_,
        lang=lang,
        html_lang="zh-CN" if lang == "zh_CN" else "en",
        status=status,
        title=title,
        detail=detail,
        retry=request.url.path if retry else "",
        viewer=None,
        csrf_token="",
        path=request.url.path,
    )
    return Response(html, status_code=status, media_type="text/html; charset=utf-8")


def _login_redirect(request: Request[Any, Any, Any], _exc: Exception) -> Response[Any]:
    return Redirect(path=f"/login?next={request.url.path}", status_code=303)


def _redirected(_request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, Redirected)
    return Redirect(path=exc.to, status_code=303)


def csrf_refusal(request: Request[Any, Any, Any]) -> str:
    """Why a form's CSRF check failed, in words the person at the browser can act on."""
    settings = get_settings()
    if settings.csrf_cookie_name not in request.cookies:
        if request.url.scheme == "http" and not settings.cookies_follow_scheme:
            return (
                "This site keeps its cookies for HTTPS only, and this page was opened over "
                "plain HTTP. Open it with https://, or ask the operator to set "
                "IDNEST_COOKIE_SECURE=false for a trial."
            )
        return "Your browser did not send back this site's cookie. Allow cookies for this site."
    return "The form was out of date (opened before a login, or in another tab). Try again."


def _http_error(request: Request[Any, Any, Any], exc: Exception) -> Response[str]:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if isinstance(exc, NotFoundException):
        return _error_page(request, 404, "Page not found")
    if isinstance(exc, PermissionDeniedException) and "CSRF" in str(exc.detail):
        _ = translator(LOCALE_DIR, lang_of(request))
        return _error_page(
            request, 403, "The form could not be accepted.", _(csrf_refusal(request)), retry=True
        )
    if isinstance(exc, PermissionDeniedException):
        return _error_page(request, 403, "You are not allowed to do this.")
    if isinstance(exc, ValidationException):  # a bad number or field in the request
        return _error_page(
            request, 400, "The request could not be handled.", validation_detail(exc)
        )
    return _error_page(request, status, "The request could not be handled.")


def _idnest_error(request: Request[Any, Any, Any], exc: Exception) -> Response[str]:
    assert isinstance(exc, IdnestError)
    if exc.http_status == 404:
        return _error_page(request, 404, "Page not found")
    # A 4xx names what was wrong with the request (our own message, about the request
    # only); a 5xx names nothing.
    detail = exc.detail if 400 <= exc.http_status < 500 and exc.http_status != 403 else ""
    return _error_page(request, exc.http_status, "The request could not be handled.", detail)


router = Router(
    path="/",
    route_handlers=[
        *public.ROUTES,
        *accounts.ROUTES,
        *staff.ROUTES,
        *operations.ROUTES,
        *staff_users.ROUTES,
        *upstream_staff.ROUTES,
        *statistics.ROUTES,
        *audit.ROUTES,
        *node_staff.ROUTES,
        *search_staff.ROUTES,
        *console.ROUTES,
        *lifecycle.ROUTES,
        *batch.ROUTES,
        *exports.ROUTES,
        *imports_staff.ROUTES,
        *schemes.ROUTES,
        *templates_staff.ROUTES,
        *templates_console.ROUTES,
        *team.ROUTES,
        *clients.ROUTES,
        *grants_console.ROUTES,
        *profile.ROUTES,
        *enterprise.ROUTES,
        *billing_console.ROUTES,
        *billing_staff.ROUTES,
        *sso.ROUTES,
        *finance.ROUTES,
    ],
    exception_handlers={
        LoginRequired: _login_redirect,
        Redirected: _redirected,
        HTTPException: _http_error,
        IdnestError: _idnest_error,
    },
    include_in_schema=False,
)

ROUTES = [router]
