"""usage_ledger.tenant_id becomes a foreign key to tenants, and the ledger is indexed by
(tenant_id, hour), the order every usage read takes (core/usage.py).

In the billing app because the core app, which creates the table, migrates before the
tenants table exists.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-02T01:52:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "usage_ledger: tenant foreign key, (tenant_id, hour) index"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="billing", description=DESCRIPTION)

    async def run():
        from core import db
        from core.ddl import add_tenant_fk

        await add_tenant_fk("usage_ledger", null=False)
        await db.engine().run_ddl(
            "CREATE INDEX IF NOT EXISTS usage_ledger_tenant_hour ON usage_ledger (tenant_id, hour)"
        )

    manager.add_raw(run)
    return manager
