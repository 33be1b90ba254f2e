"""The audit chain is linked after the write on PostgreSQL (core/audit.py, ``seal``).

Adds the indexes the chain is walked and sealed by, and on PostgreSQL the trigger that
refuses to link an entry twice (the application role's column grant is set by
``idnest migrate`` itself, core/rls.py). Entries that exist are linked already.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-03T00:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "audit_log: link-order and unlinked indexes; link-once trigger on PostgreSQL"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core", description=DESCRIPTION)

    async def ddl():
        from piccolo.engine.postgres import PostgresEngine

        from core import audit, db

        statements = list(audit.INDEX_DDL)
        if isinstance(db.engine(), PostgresEngine):
            statements += audit.POSTGRES_DDL
        for sql in statements:
            await db.engine().run_ddl(sql)

    manager.add_raw(ddl)
    return manager
