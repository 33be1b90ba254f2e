from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import ForeignKey, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table


class Tenant(Table, tablename="tenants", schema=None):
    id = Serial(
        null=False,
        primary_key=True,
        unique=False,
        index=False,
        index_method=IndexMethod.btree,
        choices=None,
        db_column_name="id",
        secret=False,
    )


ID = "2026-12-02T14:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "oauth_clients (a tenant's machine clients) and oauth_signing_keys (the node's)"


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


TENANT_FK = _params(
    references=Tenant,
    on_delete=OnDelete.restrict,
    on_update=OnUpdate.cascade,
    target_column=None,
    index=True,
)
TENANT_FK.pop("default")

TABLES = {
    ("OAuthClient", "oauth_clients"): [
        ("tenant_id", ForeignKey, TENANT_FK),
        ("client_id", Varchar, _params(length=64, unique=True)),
        ("secret_hash", Varchar, _params(length=128)),
        ("name", Varchar, _params(length=255)),
        ("scopes", Varchar, _params(length=255, default="read")),
        ("allowed_ips", Varchar, _params(length=2000)),
        ("created_at", Timestamptz, _params(default=TimestamptzNow())),
        ("revoked_at", Timestamptz, _params(default=None, null=True)),
    ],
    ("SigningKey", "oauth_signing_keys"): [
        ("kid", Varchar, _params(length=64, unique=True)),
        ("private_jwk", Text, _params()),
        ("public_jwk", Text, _params()),
        ("created_at", Timestamptz, _params(default=TimestamptzNow())),
        ("retired_at", Timestamptz, _params(default=None, null=True)),
    ],
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="clients", description=DESCRIPTION)
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
