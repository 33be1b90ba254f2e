from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-02T02:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "outbox: event id, durable backoff, dead letters, cadence de-dup key"


def _params(**over):
    params = {
        "default": None,
        "null": True,
        "primary_key": False,
        "unique": False,
        "index": False,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
    }
    params.update(over)
    return params


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core", description=DESCRIPTION)
    columns = [
        ("event_id", Varchar, "Varchar", _params(length=40, default="", null=False, index=True)),
        ("next_attempt_at", Timestamptz, "Timestamptz", _params()),
        ("dead_at", Timestamptz, "Timestamptz", _params()),
        # Unique through an index (the next migration): SQLite cannot add a UNIQUE column.
        ("dedupe_key", Varchar, "Varchar", _params(length=128)),
    ]
    for name, cls, cls_name, params in columns:
        manager.add_column(
            table_class_name="Outbox",
            tablename="outbox",
            column_name=name,
            db_column_name=name,
            column_class_name=cls_name,
            column_class=cls,
            params=params,
            schema=None,
        )

    return manager
