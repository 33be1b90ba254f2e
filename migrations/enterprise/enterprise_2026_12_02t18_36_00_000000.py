"""enterprise: the servers of self-deployed tenants (tenants/enterprise/tables.py), a
tenant table with RLS."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import (
    Boolean,
    ForeignKey,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.constraints import Unique
from piccolo.table import Table

ID = "2026-12-02T18:36:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "enterprise_servers, enterprise_server_requests: a self-deployed tenant's own Handle servers and its requested changes"


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
    ("server_id", Integer, _params(default=0)),
    ("address", Varchar, _params(length=64)),
    ("port", Integer, _params(default=2641)),
    ("protocols", Varchar, _params(length=32, default="udp,tcp")),
    ("http_port", Integer, _params(default=0)),
    ("public_key", Text, _params()),
    ("created_at", Timestamptz, _params(default=TimestamptzNow())),
]


REQUEST_COLUMNS = [
    ("tenant_id", ForeignKey, _tenant_fk()),
    ("delegated", Boolean, _params(default=False)),
    ("servers", Text, _params()),
    ("protocols", Varchar, _params(length=32, default="udp,tcp")),
    ("http_port", Integer, _params(default=0)),
    ("public_key", Text, _params()),
    ("status", Varchar, _params(length=16, default="pending")),
    ("requested_by", Varchar, _params(length=255)),
    ("created_at", Timestamptz, _params(default=TimestamptzNow())),
    ("decided_by", Varchar, _params(length=255)),
    ("decided_at", Timestamptz, _params(default=None, null=True)),
    ("reason", Varchar, _params(length=1024)),
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="enterprise", description=DESCRIPTION)
    manager.add_table(
        class_name="EnterpriseServer", tablename="enterprise_servers", schema=None, columns=None
    )
    for name, cls, params in COLUMNS:
        manager.add_column(
            table_class_name="EnterpriseServer",
            tablename="enterprise_servers",
            column_name=name,
            db_column_name=name,
            column_class_name=cls.__name__,
            column_class=cls,
            params=params,
            schema=None,
        )
    manager.add_constraint(
        table_class_name="EnterpriseServer",
        tablename="enterprise_servers",
        constraint_name="enterprise_servers_tenant_server",
        constraint_class=Unique,
        params={"columns": ["tenant_id", "server_id"], "nulls_distinct": True},
        schema=None,
    )
    manager.add_table(
        class_name="EnterpriseServerRequest",
        tablename="enterprise_server_requests",
        schema=None,
        columns=None,
    )
    for name, cls, params in REQUEST_COLUMNS:
        manager.add_column(
            table_class_name="EnterpriseServerRequest",
            tablename="enterprise_server_requests",
            column_name=name,
            db_column_name=name,
            column_class_name=cls.__name__,
            column_class=cls,
            params=params,
            schema=None,
        )
    return manager
