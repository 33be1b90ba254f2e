"""Tenant columns are named tenant_id (core/tenancy.py).

Renames the ``tenant`` foreign keys of memberships, api_keys and identifiers, and makes
the kernel's ``audit_log.tenant_id`` and ``outbox.tenant_id`` (integers until now)
foreign keys to tenants. Those two live here, not in the core app, because the core
app's migrations run before the tenants table exists on an empty database.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-01T21:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "tenant columns are tenant_id, a foreign key to tenants"

RENAMED = (("Membership", "memberships"), ("ApiKey", "api_keys"), ("Identifier", "identifiers"))


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tenants", description=DESCRIPTION)
    for class_name, tablename in RENAMED:
        manager.rename_column(
            table_class_name=class_name,
            tablename=tablename,
            old_column_name="tenant",
            new_column_name="tenant_id",
        )

    async def kernel_foreign_keys():
        from core.ddl import add_tenant_fk

        await add_tenant_fk("audit_log", null=True)
        await add_tenant_fk("outbox", null=True)

    manager.add_raw(kernel_foreign_keys)
    return manager
