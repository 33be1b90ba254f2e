"""Every row of these tables belongs to a tenant: tenant_id becomes NOT NULL.

A separate migration from the rename because raw steps run before a migration's column
operations (core/ddl.py says how this is done on SQLite).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-01T21:50:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "tenant_id is NOT NULL"
TABLES = ("memberships", "api_keys", "identifiers")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tenants", description=DESCRIPTION)

    async def run():
        from core.ddl import add_tenant_fk

        for table in TABLES:
            await add_tenant_fk(table, null=False)

    manager.add_raw(run)
    return manager
