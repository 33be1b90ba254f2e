"""resolution_counts.tenant_id becomes a foreign key to tenants (core/tenancy.py)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-01T21:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "resolution_counts.tenant_id is a foreign key to tenants"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="resolver", description=DESCRIPTION)

    async def run():
        from core.ddl import add_tenant_fk

        await add_tenant_fk("resolution_counts", null=False)

    manager.add_raw(run)
    return manager
