"""Applications are node-wide: their tenant_id is renamed approved_tenant_id.

Only tenant-owned tables carry a column named tenant_id (core/tenancy.py), so that
every table with one is under row-level security. An application is filed before its
tenant exists; the column says which tenant it became.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-01T21:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "onboarding_applications.tenant_id is approved_tenant_id"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="onboarding", description=DESCRIPTION)
    manager.rename_column(
        table_class_name="Application",
        tablename="onboarding_applications",
        old_column_name="tenant_id",
        new_column_name="approved_tenant_id",
    )
    return manager
