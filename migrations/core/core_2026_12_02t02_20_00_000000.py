from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-02T02:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "node_profile (the operator's profile, kept by staff) and template_requests"


def _params(**over):
    params = {
        "default": "",
        "null": False,
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


TABLES = {
    ("NodeProfile", "node_profile"): [
        ("node_name", Varchar, _params(length=255)),
        ("node_type", Varchar, _params(length=64, default="enterprise")),
        ("operator_name", Varchar, _params(length=255)),
        ("credit_code", Varchar, _params(length=18)),
        ("legal_representative", Varchar, _params(length=255)),
        ("system_location", Varchar, _params(length=255)),
        ("data_location", Varchar, _params(length=255)),
        ("escrow_provider", Varchar, _params(length=255)),
        ("updated_at", Timestamptz, _params(default=None, null=True)),
        ("updated_by", Varchar, _params(length=64)),
    ],
    ("TemplateRequest", "template_requests"): [
        ("industry", Varchar, _params(length=8)),
        ("name", Varchar, _params(length=255)),
        ("description", Varchar, _params(length=2000)),
        ("requested_by", Varchar, _params(length=64)),
        ("event_id", Varchar, _params(length=40)),
        ("created_at", Timestamptz, _params(default=TimestamptzNow())),
    ],
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core", description=DESCRIPTION)
    for (class_name, tablename), columns in TABLES.items():
        manager.add_table(class_name=class_name, tablename=tablename, schema=None, columns=None)
        for name, cls, params in columns:
            manager.add_column(
                table_class_name=class_name,
                tablename=tablename,
                column_name=name,
                db_column_name=name,
                column_class_name=cls.__name__,
                column_class=cls,
                params=params,
                schema=None,
            )
    return manager
