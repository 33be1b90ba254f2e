"""Test set-up: one profile per run, chosen before anything imports the settings.

``IDNEST_TEST_PROFILE=embedded`` (default): SQLite in a temporary folder, no services.
``IDNEST_TEST_PROFILE=postgres``: a fresh PostgreSQL database for this run, plus Redis.
Migrations run as the admin role (the owner); the suite itself connects as
``APP_ROLE``, which ``idnest migrate`` creates (once per cluster, race-safe: test runs
share it) with no superuser and no BYPASSRLS, so row-level security holds in every test.
Under CI (``CI=true``) an unreachable PostgreSQL or Redis fails the run instead of
skipping, so the real-database path can never silently go untested.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

PROFILE = os.environ.get("IDNEST_TEST_PROFILE", "embedded")
PG_ADMIN_URL = os.environ.get(
    "IDNEST_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("IDNEST_TEST_REDIS", "redis://127.0.0.1:6379/0")
_TMP = tempfile.mkdtemp(prefix="idnest-test-")
_PG_DB = f"idnest_test_{uuid.uuid4().hex[:10]}"

for _var in [k for k in os.environ if k.startswith("IDNEST_") and not k.startswith("IDNEST_TEST")]:
    del os.environ[_var]
os.environ["IDNEST_VAR_DIR"] = _TMP
os.environ["IDNEST_NODE_PREFIX"] = "88.100"
os.environ["IDNEST_LOG_LEVEL"] = "WARNING"
# Counters and caches are observed directly in tests; keep backstops out of the way.
os.environ["IDNEST_COUNTER_FLUSH_INTERVAL"] = "3600"
# Wire-protocol tests start their own listeners on free ports; apps in other tests
# need not bind 2641.
os.environ["IDNEST_WIRE_ENABLED"] = "false"
# Every app start would otherwise run the due periodic jobs against the shared test
# database; the scheduler tests start their own schedulers.
os.environ["IDNEST_SCHEDULER_ENABLED"] = "false"


def _fail_or_skip(reason: str) -> None:
    if os.environ.get("CI"):
        raise RuntimeError(f"CI requires this service: {reason}")
    pytest.exit(f"postgres profile unavailable: {reason}", returncode=1)


async def _create_pg_database() -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await conn.execute(f'CREATE DATABASE "{_PG_DB}"')
    finally:
        await conn.close()


async def _drop_pg_database() -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{_PG_DB}" WITH (FORCE)')
    finally:
        await conn.close()


def pytest_configure(config: pytest.Config) -> None:
    if PROFILE == "postgres":
        try:
            asyncio.run(_create_pg_database())
        except Exception as exc:
            _fail_or_skip(f"PostgreSQL at {PG_ADMIN_URL}: {exc}")
        try:
            import redis

            redis.Redis.from_url(REDIS_URL, socket_timeout=3).ping()
        except Exception as exc:
            _fail_or_skip(f"Redis at {REDIS_URL}: {exc}")
        owner_url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{_PG_DB}"
        os.environ["IDNEST_MIGRATION_DATABASE_URL"] = owner_url
        from node_support import app_role_url

        os.environ["IDNEST_DATABASE_URL"] = app_role_url(owner_url)
        os.environ["IDNEST_REDIS_URL"] = REDIS_URL
    elif PROFILE != "embedded":
        raise RuntimeError(f"unknown IDNEST_TEST_PROFILE {PROFILE!r}")
    from core.migrate import migrate

    asyncio.run(migrate())


def pytest_unconfigure(config: pytest.Config) -> None:
    if PROFILE == "postgres":
        # The run's result matters more than the cleanup.
        with contextlib.suppress(Exception):
            asyncio.run(_drop_pg_database())
    shutil.rmtree(_TMP, ignore_errors=True)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def settings() -> Any:
    from core.settings import get_settings

    return get_settings()


@pytest.fixture
async def app() -> AsyncIterator[Any]:
    """A fresh application (and bus) per test, with its lifespan running."""
    from core.bus import set_bus
    from portal.app import create_app

    set_bus(None)
    yield create_app()
    set_bus(None)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[Any]:
    """An HTTP client on the app, with the lifespan run in the test's own event loop
    (Litestar's test client runs it in another thread, away from the database pool)."""
    import httpx
    from asgi_lifespan import LifespanManager

    # The raw app, not manager.app: the manager shares one lifespan "state" dict across
    # requests, and Litestar keeps per-request bookkeeping in it.
    async with LifespanManager(app, startup_timeout=30):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


@dataclass
class TenantFixture:
    id: int
    prefix: str
    key: str
    read_key: str

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}"}


async def make_tenant(name: str = "Test Co") -> TenantFixture:
    from tenants.accounts.services.apikeys import create_key
    from tenants.accounts.services.tenants import create_tenant

    t = await create_tenant(name, actor="test")
    key, _ = await create_key(t.prefix, scopes="read,write", actor="test")
    read_key, _ = await create_key(t.prefix, scopes="read", actor="test")
    return TenantFixture(t.id, t.prefix, key, read_key)


@pytest.fixture
async def tenant_a(client: Any) -> TenantFixture:
    return await make_tenant("Alpha Pumps")


@pytest.fixture
async def tenant_b(client: Any) -> TenantFixture:
    return await make_tenant("Beta Valves")


@pytest.fixture
def tmp_workdir() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="idnest-work-")
    yield path
    shutil.rmtree(path, ignore_errors=True)
