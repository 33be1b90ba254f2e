"""The one mapping from errors to HTTP: problem+json (RFC 9457).

Handle.net clients read ``responseCode`` (and ``handle``) from error bodies, so every
problem document also carries them; problem-aware clients read ``type``, ``title``,
``status`` and ``detail``. Nothing reaches a client as a bare 500 traceback.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException

from core import db, pgha
from core.errors import IdnestError, rc_for_http_status

log = logging.getLogger("idnest.http")
PROBLEM = "application/problem+json"
_json = msgspec.json.Encoder()
# Route option for public, anonymous reads (resolution): no session is loaded and no
# CSRF cookie is set, so a cache or CDN may keep the answer and nobody is tracked.
NO_COOKIES = {"exclude_from_csrf": True, "skip_session": True}


def problem_document(
    status: int, title: str, detail: str, *, rc: int, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The problem+json body every HTTP door sends (Litestar here, raw ASGI in resolver.gs1)."""
    body: dict[str, Any] = {
        "type": f"https://idnest.dev/problems/{title.lower().replace(' ', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
        "responseCode": rc,
        "message": detail,
    }
    if extra:
        body.update({k: v for k, v in extra.items() if v is not None})
    return body


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    rc: int,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    body = problem_document(status, title, detail, rc=rc, extra=extra)
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="idnest"'
    return Response(
        content=_json.encode(body), status_code=status, media_type=PROBLEM, headers=headers
    )


def idnest_error_handler(_: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    assert isinstance(exc, IdnestError)
    retry = getattr(exc, "retry_after", None)
    return problem(
        exc.http_status,
        exc.title,
        exc.detail,
        rc=exc.rc,
        extra={"handle": exc.handle, "field": exc.field, **(exc.extra or {})},
        headers={"Retry-After": str(retry)} if retry else None,
    )


def validation_detail(exc: ValidationException) -> str:
    """The framework's validation failure as one sentence naming each bad parameter."""
    errors = exc.extra if isinstance(exc.extra, list) else []
    detail = exc.detail or "invalid request"
    parts = []
    for e in errors:
        if isinstance(e, dict):
            where = e.get("key") or e.get("source") or ""
            parts.append(f"{where}: {e.get('message', '')}".strip(": "))
    return f"{detail}: " + "; ".join(parts) if parts else detail


def validation_error_handler(_: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    assert isinstance(exc, ValidationException)
    errors = exc.extra if isinstance(exc.extra, list) else []
    return problem(
        400, "Bad request", validation_detail(exc), rc=2, extra={"errors": errors or None}
    )


def http_error_handler(_: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    title = (
        "Not found"
        if isinstance(exc, NotFoundException)
        else ("Error" if status >= 500 else "Request refused")
    )
    # The framework's own headers (a 405's Allow, a 429's Retry-After) reach the client.
    return problem(
        status, title, str(exc.detail), rc=rc_for_http_status(status), headers=exc.headers or None
    )


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    if db.is_unreachable(exc):
        log.warning("database unreachable on %s %s: %r", request.method, request.url.path, exc)
        return problem(
            503,
            "Service unavailable",
            "the database is unreachable; writes and uncached reads resume when it is back",
            rc=3,
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, pgha.Contended):
        log.warning("%s %s rolled back (%r)", request.method, request.url.path, exc)
        return problem(
            503,
            "Service unavailable",
            "a concurrent change met this one and it was rolled back; nothing was stored; "
            "send it again",
            rc=3,
            headers={"Retry-After": "1"},
        )
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "Internal error", "an unexpected error occurred; it has been logged", rc=2)


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    IdnestError: idnest_error_handler,
    ValidationException: validation_error_handler,
    HTTPException: http_error_handler,
    Exception: internal_error_handler,
}
