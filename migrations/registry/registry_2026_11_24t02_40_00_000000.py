"""Search indexes. PostgreSQL gets pg_trgm GIN indexes for substring search on
identifiers; SQLite has no trigram index and falls back to LIKE scans within a tenant.
Hand-written (raw SQL), because Piccolo's auto-migrations do not know operator classes.

The tenant column was ``tenant`` when this ran first; on an empty database the tenants
app's later rename (tenant -> tenant_id) has already run by now, so the index names
whichever column exists."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.postgres import PostgresEngine

ID = "2026-11-24T02:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "search indexes (pg_trgm on PostgreSQL)"

POSTGRES = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS identifiers_handle_key_trgm "
    "ON identifiers USING gin (handle_key gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS identifiers_values_trgm "
    'ON identifiers USING gin ("values" gin_trgm_ops)',
    "CREATE INDEX IF NOT EXISTS identifiers_tenant_updated ON identifiers ({tenant}, updated_at)",
    "CREATE INDEX IF NOT EXISTS identifiers_tenant_created ON identifiers ({tenant}, created_at)",
]
SQLITE = [
    "CREATE INDEX IF NOT EXISTS identifiers_tenant_updated ON identifiers ({tenant}, updated_at)",
    "CREATE INDEX IF NOT EXISTS identifiers_tenant_created ON identifiers ({tenant}, created_at)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="registry", description=DESCRIPTION)

    async def run():
        from core import db
        from core.ddl import has_column

        eng = db.engine()
        tenant = "tenant_id" if await has_column("identifiers", "tenant_id") else "tenant"
        for sql in POSTGRES if isinstance(eng, PostgresEngine) else SQLITE:
            await eng.run_ddl(sql.format(tenant=tenant))

    manager.add_raw(run)
    return manager
