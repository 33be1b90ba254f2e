from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-02T02:00:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "outbox: one cadence message per de-dup key (a unique index)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core", description=DESCRIPTION)

    async def unique_key():
        from core import db

        await db.engine().run_ddl(
            "CREATE UNIQUE INDEX IF NOT EXISTS outbox_dedupe_key_unique ON outbox (dedupe_key)"
        )

    manager.add_raw(unique_key)
    return manager
