"""grants: cross-enterprise grants (tenants/grants/tables.py), a tenant table with RLS."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import ForeignKey, Serial, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.constraints import Unique
from piccolo.table import Table

ID = "2026-12-02T14:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "grants: an owner tenant's grants of restricted values to a partner"


class Tenant(Table, tablename="tenants", schema=None):
    id = Serial(null=False, primary_key=True, unique=False, index=False,
                index_method=IndexMethod.btree, choices=None, db_column_name="id",
                secret=False)  # fmt: skip


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


def _tenant_fk():
    params = _params(references=Tenant, on_delete=OnDelete.restrict, on_update=OnUpdate.cascade,
                     target_column=None, index=True)  # fmt: skip
    del params["default"]
    return params


COLUMNS = [
    ("tenant_id", ForeignKey, _tenant_fk()),
    ("public_id", Varchar, _params(length=40)),
    ("partner_id", ForeignKey, _tenant_fk()),
    ("client_id", Varchar, _params(length=128)),
    ("kind", Varchar, _params(length=16)),
    ("selector", Varchar, _params(length=255)),
    ("actor", Varchar, _params(length=255)),
    ("created_at", Timestamptz, _params(default=TimestamptzNow())),
    ("revoked_at", Timestamptz, _params(default=None, null=True)),
    ("revoked_by", Varchar, _params(length=255)),
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="grants", description=DESCRIPTION)
    manager.add_table(class_name="Grant", tablename="grants", schema=None, columns=None)
    for name, cls, params in COLUMNS:
        manager.add_column(
            table_class_name="Grant",
            tablename="grants",
            column_name=name,
            db_column_name=name,
            column_class_name=cls.__name__,
            column_class=cls,
            params=params,
            schema=None,
        )
    manager.add_constraint(
        table_class_name="Grant",
        tablename="grants",
        constraint_name="grants_tenant_public_id_unique",
        constraint_class=Unique,
        params={"columns": ["tenant_id", "public_id"], "nulls_distinct": True},
        schema=None,
    )
    return manager
