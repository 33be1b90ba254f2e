"""Apply pending Piccolo migrations, once, even when several processes start together.

Migrations are authored against PostgreSQL (``piccolo migrations new <app> --auto``) and
run unchanged on SQLite. A lock (an advisory lock on PostgreSQL, a file lock beside the
SQLite file) keeps two starting processes from applying the same migration twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import logging
from collections.abc import AsyncIterator

from piccolo.engine.postgres import PostgresEngine

from core import db
from core.settings import get_settings

log = logging.getLogger("idnest.migrate")
_LOCK_KEY = 0x1D_4E57  # arbitrary, constant advisory-lock key for migrations


@contextlib.asynccontextmanager
async def _migration_lock() -> AsyncIterator[None]:
    eng = db.engine()
    if isinstance(eng, PostgresEngine):
        import asyncpg

        conn = await asyncpg.connect(get_settings().effective_database_url)
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


async def migrate() -> None:
    """Bring the schema up to date. Raises RuntimeError if a migration fails."""
    db.configure()
    from piccolo.apps.migrations.commands.forwards import run_forwards

    out = io.StringIO()
    async with _migration_lock():
        # Piccolo prints progress to stdout; CLI commands keep stdout for their answer.
        with contextlib.redirect_stdout(out):
            result = await run_forwards(app_name="all", migration_id="all")
    for line in out.getvalue().splitlines():
        if line.strip():
            log.debug("%s", line)
    if not result.success:
        raise RuntimeError(f"migration failed: {result.message}")
