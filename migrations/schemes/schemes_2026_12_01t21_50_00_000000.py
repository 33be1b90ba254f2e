"""Tenant columns are named tenant_id (core/tenancy.py)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-01T21:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "tenant columns are tenant_id"

RENAMED = (
    ("SchemeNamespace", "scheme_namespaces"),
    ("SchemeCode", "scheme_codes"),
    ("GS1Link", "gs1_links"),
    ("CodeMapping", "code_mappings"),
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="schemes", description=DESCRIPTION)
    for class_name, tablename in RENAMED:
        manager.rename_column(
            table_class_name=class_name,
            tablename=tablename,
            old_column_name="tenant",
            new_column_name="tenant_id",
        )
    return manager
