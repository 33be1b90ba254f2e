"""Session, CSRF and static-file configuration for the portal, wired in portal/app.py.

Sessions are server-side: in Redis in the single-node profile (every worker sees
them), in process in the embedded one. JSON APIs authenticate with tokens, not
cookies, so they are exempt from CSRF and never load a session.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from litestar.config.csrf import CSRFConfig
from litestar.middleware.session.server_side import ServerSideSessionConfig
from litestar.static_files import create_static_files_router
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore

from core import redisconn
from core.settings import Settings

EXEMPT = [
    "^/api/",
    "^/identity",
    "^/oauth/",
    "^/snms/",
    "^/hrls/",
    "^/healthz",
    "^/readyz",
    "^/schema",
]  # "^/schema" covers /schema-ui/
STATIC = Path(__file__).resolve().parent.parent / "static"


def session_store(settings: Settings) -> Store:
    if settings.uses_redis:
        from litestar.stores.redis import RedisStore

        return RedisStore(
            redisconn.client(settings), namespace=f"{settings.redis_namespace}:session"
        )
    return MemoryStore()


def session_config(settings: Settings) -> ServerSideSessionConfig:
    return ServerSideSessionConfig(
        key="idnest_session",
        store="sessions",
        max_age=settings.session_max_age,
        secure=settings.secure_cookies,
        httponly=True,
        samesite="lax",
        exclude=[*EXEMPT, "^/static/"],
    )


def csrf_config(settings: Settings) -> CSRFConfig:
    secret = hashlib.sha256(b"idnest:csrf\0" + settings.resolved_secret_key().encode()).hexdigest()
    return CSRFConfig(
        secret=secret,
        cookie_name=settings.csrf_cookie_name,
        cookie_secure=settings.secure_cookies,
        cookie_httponly=True,
        cookie_samesite="strict",
        header_name="x-csrftoken",
        exclude=EXEMPT,
    )


def static_router() -> Any:
    return create_static_files_router(
        path="/static", directories=[STATIC], include_in_schema=False, cache_control=None
    )
