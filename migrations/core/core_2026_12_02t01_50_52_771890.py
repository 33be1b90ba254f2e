"""usage_ledger: usage per tenant and hour (core/usage.py).

Generated with `piccolo migrations new core --auto`, then edited: tenant_id is created as
a plain integer here, because the core app migrates before ``tenants`` exists; the billing
app's first migration makes it the foreign key (core.ddl.add_tenant_fk), as the tenants
app did for audit_log and outbox.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import BigInt, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.constraints import Unique

ID = "2026-12-02T01:50:52:771890"
VERSION = "1.38.0"
DESCRIPTION = "usage_ledger: usage per tenant and hour"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core", description=DESCRIPTION)

    manager.add_table(
        class_name="UsageEntry",
        tablename="usage_ledger",
        schema=None,
        columns=None,
    )

    manager.add_column(
        table_class_name="UsageEntry",
        tablename="usage_ledger",
        column_name="tenant_id",
        db_column_name="tenant_id",
        column_class_name="BigInt",
        column_class=BigInt,
        params={
            "default": 0,
            "null": False,
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

    manager.add_column(
        table_class_name="UsageEntry",
        tablename="usage_ledger",
        column_name="hour",
        db_column_name="hour",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": TimestamptzNow(),
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": True,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="UsageEntry",
        tablename="usage_ledger",
        column_name="source",
        db_column_name="source",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 96,
            "default": "",
            "null": False,
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

    manager.add_column(
        table_class_name="UsageEntry",
        tablename="usage_ledger",
        column_name="registrations",
        db_column_name="registrations",
        column_class_name="BigInt",
        column_class=BigInt,
        params={
            "default": 0,
            "null": False,
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

    manager.add_column(
        table_class_name="UsageEntry",
        tablename="usage_ledger",
        column_name="resolutions",
        db_column_name="resolutions",
        column_class_name="BigInt",
        column_class=BigInt,
        params={
            "default": 0,
            "null": False,
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

    manager.add_column(
        table_class_name="UsageEntry",
        tablename="usage_ledger",
        column_name="not_found",
        db_column_name="not_found",
        column_class_name="BigInt",
        column_class=BigInt,
        params={
            "default": 0,
            "null": False,
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

    manager.add_column(
        table_class_name="UsageEntry",
        tablename="usage_ledger",
        column_name="created_at",
        db_column_name="created_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": TimestamptzNow(),
            "null": False,
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

    manager.add_constraint(
        table_class_name="UsageEntry",
        tablename="usage_ledger",
        constraint_name="usage_ledger_source_unique",
        constraint_class=Unique,
        params={"columns": ["tenant_id", "source"], "nulls_distinct": True},
        schema=None,
    )

    return manager
