"""Chain the audit rows that exist (core/audit.py) and, on SQLite, refuse UPDATE and
DELETE on audit_log with triggers. The columns came in the migration before."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-02T15:00:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "audit_log: chain existing rows; append-only triggers on SQLite"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core", description=DESCRIPTION)

    async def chain():
        from piccolo.engine.postgres import PostgresEngine

        from core import audit, db

        await audit.chain_existing()
        if not isinstance(db.engine(), PostgresEngine):
            for sql in audit.SQLITE_TRIGGERS:
                await db.engine().run_ddl(sql)

    manager.add_raw(chain)
    return manager
