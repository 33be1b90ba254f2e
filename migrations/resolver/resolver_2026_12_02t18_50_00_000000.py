"""probe_results.door and abnormal_events.door take 64 characters: the prober names a
self-deployed tenant's servers as a door of their own (``enterprise:{prefix}``)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-02T18:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "probe and abnormal-event doors name a self-deployed tenant"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="resolver", description=DESCRIPTION)

    async def run():
        from piccolo.engine.postgres import PostgresEngine

        from core import db

        eng = db.engine()
        if not isinstance(eng, PostgresEngine):
            return  # SQLite does not enforce a VARCHAR's length
        for table in ("probe_results", "abnormal_events"):
            await eng.run_ddl(f'ALTER TABLE "{table}" ALTER COLUMN door TYPE VARCHAR(64)')

    manager.add_raw(run)
    return manager
