"""Tests look at and arrange rows of any tenant the way the node's own jobs do.

On PostgreSQL the suite connects as the application's role, under row-level security,
so a test that reads a table directly sees nothing outside a tenant's transaction. It
reads on the ``maintenance`` cross-tenant path instead (core/tenancy.py); the service
calls under test still run in their own scopes.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

# The application's role of the PostgreSQL profile: created by `idnest migrate` (once
# per cluster; concurrent test runs share it).
APP_ROLE = os.environ.get("IDNEST_TEST_PG_APP_ROLE", "idnest_test_app")


def app_role_url(url: str, role: str = APP_ROLE) -> str:
    """``url`` with its user replaced by ``role`` (no password: the test cluster trusts)."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{role}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@contextlib.asynccontextmanager
async def as_node() -> AsyncIterator[None]:
    from core.tenancy import cross_tenant

    async with cross_tenant("maintenance", write=True):
        yield
