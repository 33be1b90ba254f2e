"""identifiers.window_reported_at: how far the validity window's edges have been told to
the top-level node (tenants/identifiers/services/window_edges.py). Existing rows: NULL,
so edges already past are told once by the first run."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-03T00:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "identifiers.window_reported_at"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tenants", description=DESCRIPTION)
    manager.add_column(
        table_class_name="Identifier",
        tablename="identifiers",
        column_name="window_reported_at",
        db_column_name="window_reported_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )
    return manager
