"""Every tenant_id is an integer, as tenants.id (a Serial) is (docs/scaling.md).

usage_ledger's tenant_id was created as a BigInt before it became the foreign key; Citus
colocates tables by their distribution column's type, so one odd type would split the
tenant tables into two colocation groups and refuse joins between them. PostgreSQL only:
SQLite has one INTEGER type. Every declared tenant table is looked at, so one that was
missed elsewhere is fixed too.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.postgres import PostgresEngine

ID = "2026-12-02T14:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "tenant_id: one integer type on every tenant table (Citus colocation)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="billing", description=DESCRIPTION)

    async def run():
        from core import db
        from core.tenancy import TENANT_TABLES

        eng = db.engine()
        if not isinstance(eng, PostgresEngine):
            return
        rows = await eng.run_ddl(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND column_name = 'tenant_id' AND data_type <> 'integer'"
        )
        declared = {t.name for t in TENANT_TABLES}
        for name in sorted(r["table_name"] for r in rows or [] if r["table_name"] in declared):
            await eng.run_ddl(f'ALTER TABLE "{name}" ALTER COLUMN tenant_id TYPE integer')

    manager.add_raw(run)
    return manager
