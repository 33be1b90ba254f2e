"""Seed the node's core and industry metadata templates from templates_seed.json.
Idempotent: a template code that already exists is left alone (later versions come
from staff edits or the top-level node)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-24T02:41:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "seed core and industry templates"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="registry", description=DESCRIPTION)

    async def run():
        from tenants.templates.services.templates import seed

        await seed(actor="migration")

    manager.add_raw(run)
    return manager
