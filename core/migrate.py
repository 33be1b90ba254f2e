"""Apply pending Piccolo migrations, once, even when several processes start together.

Migrations are authored against PostgreSQL (``piccolo migrations new <app> --auto``) and
run unchanged on SQLite. A lock (an advisory lock on PostgreSQL, a file lock beside the
SQLite file) keeps two starting processes from applying the same migration twice.

On PostgreSQL they run as the owner role (``IDNEST_MIGRATION_DATABASE_URL``, else
``IDNEST_DATABASE_URL``), in one transaction on the ``migrate`` cross-tenant path, and
end by bringing row-level security up to date with core/tenancy.py (core/rls.py); on
both profiles the escrow change-log triggers follow the same declaration (core/changelog.py). When
the application connects as another role, that role is created if missing (LOGIN, no
superuser, no BYPASSRLS, owning nothing) and granted what it needs.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

from piccolo.engine.postgres import PostgresEngine

from core import audit, changelog, db, rls, tenancy
from core.settings import Settings, get_settings

log = logging.getLogger("idnest.migrate")
_LOCK_KEY = 0x1D_4E57  # arbitrary, constant advisory-lock key for migrations


@contextlib.asynccontextmanager
async def _migration_lock() -> AsyncIterator[None]:
    eng = db.engine()
    if isinstance(eng, PostgresEngine):
        import asyncpg

        conn = await asyncpg.connect(owner_url(get_settings()))
        try:
            await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
            yield
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
            await conn.close()
    else:
        lock_path = get_settings().var_dir / "migrate.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "w") as fh:  # noqa: ASYNC230 - a lock file, opened once
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


def owner_url(settings: Settings) -> str:
    return settings.migration_database_url or settings.effective_database_url


def _role_of(url: str) -> tuple[str, str | None]:
    parts = urlsplit(url)
    user = unquote(parts.username or "")
    return user, unquote(parts.password) if parts.password is not None else None


@contextlib.contextmanager
def _as_owner(eng: PostgresEngine, url: str) -> Iterator[None]:
    """Point the engine at the owner's URL for the migration's one transaction.

    Run before the application serves anything (the CLI migrates first), so nothing
    else uses the engine meanwhile; the pool, if started, is set aside and restored.
    """
    config, pool = eng.config, eng.pool
    eng.config, eng.pool = {"dsn": url}, None
    try:
        yield
    finally:
        eng.config, eng.pool = config, pool


async def migrate() -> None:
    """Bring the schema up to date. Raises RuntimeError if a migration fails."""
    db.configure()
    from piccolo.apps.migrations.commands.forwards import run_forwards

    settings = get_settings()
    eng = db.engine()
    out = io.StringIO()
    async with _migration_lock():
        # Piccolo prints progress to stdout; CLI commands keep stdout for their answer.
        with contextlib.redirect_stdout(out), audit.sealing_held():
            if isinstance(eng, PostgresEngine):
                with _as_owner(eng, owner_url(settings)):
                    async with tenancy.cross_tenant("migrate", write=True) as tx:
                        result = await run_forwards(app_name="all", migration_id="all")
                        if not result.success:
                            raise RuntimeError(f"migration failed: {result.message}")
                        await _secure(tx.connection, settings)
            else:
                result = await run_forwards(app_name="all", migration_id="all")
                if result.success:
                    changelog.sqlite_apply(str(db.sqlite_path(settings.effective_database_url)))
    for line in out.getvalue().splitlines():
        if line.strip():
            log.debug("%s", line)
    if not result.success:
        raise RuntimeError(f"migration failed: {result.message}")


async def _secure(conn: Any, settings: Settings) -> None:
    if not await rls.current(conn):
        await rls.apply(conn)
        log.info("row-level security applied to %d tables", len(tenancy.TENANT_TABLES))
    if not await changelog.pg_current(conn):
        await changelog.pg_apply(conn)
        log.info("escrow change log triggers applied")
    app_role, password = _role_of(settings.effective_database_url)
    owner = await conn.fetchval("SELECT current_user")
    if app_role and app_role != owner:
        await rls.create_app_role(conn, app_role, password)
        await rls.grant_app_role(conn, app_role)
