"""Registry tables: tenant_id is a foreign key to tenants, and unique keys include it.

- snms_accounts, idempotency_keys, bulk_jobs, metadata_templates: tenant_id (an integer
  until now) becomes a foreign key (core/ddl.py says how on SQLite).
- bulk_job_failures: tenant_id is copied from each failure's job, made NOT NULL and a
  foreign key, and its unique key becomes (tenant_id, job_id, row_no).
- metadata_templates: ``owner`` (0 for the node) goes. Its unique key
  (owner, code, version) becomes two partial unique indexes, one among each tenant's
  templates and one among the node's (tenant_id NULL), which both engines support.

Hand-written: Piccolo's auto-migrations neither add foreign keys to existing columns
nor write partial indexes. A later ``--auto`` migration may propose re-altering these
columns; compare it with the table classes before keeping it.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.postgres import PostgresEngine

ID = "2026-12-01T21:50:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "registry tenant_id foreign keys; unique keys include tenant_id"


async def _drop_unique(table: str, name: str) -> None:
    from core import db

    eng = db.engine()
    if isinstance(eng, PostgresEngine):
        await eng.run_ddl(f'ALTER TABLE "{table}" DROP CONSTRAINT IF EXISTS "{name}"')
    else:
        await eng.run_ddl(f'DROP INDEX IF EXISTS "{name}"')


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="registry", description=DESCRIPTION)

    async def run():
        from core import db
        from core.ddl import add_tenant_fk

        eng = db.engine()
        for table in ("snms_accounts", "idempotency_keys", "bulk_jobs"):
            await add_tenant_fk(table, null=False)
        await add_tenant_fk("metadata_templates", null=True)

        await eng.run_ddl(
            "UPDATE bulk_job_failures SET tenant_id = "
            "(SELECT j.tenant_id FROM bulk_jobs j WHERE j.id = bulk_job_failures.job_id)"
        )
        await eng.run_ddl("DELETE FROM bulk_job_failures WHERE tenant_id IS NULL")
        await add_tenant_fk("bulk_job_failures", null=False)
        await _drop_unique("bulk_job_failures", "bulk_job_failures_unique_job_row")
        await eng.run_ddl(
            'ALTER TABLE "bulk_job_failures" ADD CONSTRAINT "bulk_job_failures_unique_job_row" '
            'UNIQUE ("tenant_id", "job_id", "row_no")'
        )

        await _drop_unique("metadata_templates", "metadata_templates_unique_code_version")
        await eng.run_ddl(
            "CREATE UNIQUE INDEX metadata_templates_tenant_code_version_unique "
            "ON metadata_templates (tenant_id, code, version) WHERE tenant_id IS NOT NULL"
        )
        await eng.run_ddl(
            "CREATE UNIQUE INDEX metadata_templates_node_code_version_unique "
            "ON metadata_templates (code, version) WHERE tenant_id IS NULL"
        )

    # Raw steps run before the column operations: the old unique key on owner goes first.
    manager.add_raw(run)
    manager.drop_column(
        table_class_name="MetadataTemplate",
        tablename="metadata_templates",
        column_name="owner",
        db_column_name="owner",
    )
    return manager
