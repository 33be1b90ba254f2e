"""The web portal: public signup, applicant pages, staff console, tenant console.

All pages live under one Router whose exception handlers answer in HTML: a guard's
LoginRequired becomes a redirect to /login, a 404 or 403 becomes a plain page that
names nothing about the thing asked for.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router
from litestar.exceptions import HTTPException, NotFoundException, PermissionDeniedException
from litestar.response import Redirect

from core.errors import IdnestError
from core.i18n import translator
from portal.web import (
    accounts,
    batch,
    console,
    profile,
    public,
    schemes,
    search_staff,
    sso,
    staff,
    team,
    templates_console,
    templates_staff,
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


def _error_page(request: Request[Any, Any, Any], status: int, title: str) -> Response[str]:
    lang = lang_of(request)
    _ = translator(LOCALE_DIR, lang)
    html = env.get_template("error.html").render(
        _=_,
        lang=lang,
        html_lang="zh-CN" if lang == "zh_CN" else "en",
        status=status,
        title=title,
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


def _http_error(request: Request[Any, Any, Any], exc: Exception) -> Response[str]:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if isinstance(exc, NotFoundException):
        return _error_page(request, 404, "Page not found")
    if isinstance(exc, PermissionDeniedException):
        return _error_page(request, 403, "You are not allowed to do this.")
    return _error_page(request, status, "The request could not be handled.")


def _idnest_error(request: Request[Any, Any, Any], exc: Exception) -> Response[str]:
    assert isinstance(exc, IdnestError)
    if exc.http_status == 404:
        return _error_page(request, 404, "Page not found")
    return _error_page(request, exc.http_status, "The request could not be handled.")


router = Router(
    path="/",
    route_handlers=[
        *public.ROUTES,
        *accounts.ROUTES,
        *staff.ROUTES,
        *search_staff.ROUTES,
        *console.ROUTES,
        *batch.ROUTES,
        *schemes.ROUTES,
        *templates_staff.ROUTES,
        *templates_console.ROUTES,
        *team.ROUTES,
        *profile.ROUTES,
        *sso.ROUTES,
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
