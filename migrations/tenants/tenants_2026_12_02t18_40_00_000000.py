"""Identifier lifecycle (docs/registry.md, "Lifecycle and validity").

- identifiers: ``status`` (active, suspended, revoked, expired), ``status_since``,
  ``status_reason``, and the optional validity window ``valid_from`` / ``valid_until``.
  Every existing record is active with no window.
- tenants: ``lifecycle_suspended`` and ``lifecycle_expired``, what the HTTP doors answer
  for a suspended or expired identifier of that tenant (refuse / serve).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-02T18:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "identifier status and validity window; tenant lifecycle policy"


def _params(**kw):
    params = {
        "null": False,
        "primary_key": False,
        "unique": False,
        "index": False,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
    }
    params.update(kw)
    return params


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tenants", description=DESCRIPTION)

    def add(table_class, table, column, cls, **params):
        manager.add_column(
            table_class_name=table_class,
            tablename=table,
            column_name=column,
            db_column_name=column,
            column_class_name=cls.__name__,
            column_class=cls,
            params=_params(**params),
            schema=None,
        )

    add("Identifier", "identifiers", "status", Varchar, default="active", length=16)
    add("Identifier", "identifiers", "status_since", Timestamptz, default=None, null=True)
    add("Identifier", "identifiers", "status_reason", Varchar, default="", length=255)
    add("Identifier", "identifiers", "valid_from", Timestamptz, default=None, null=True)
    add("Identifier", "identifiers", "valid_until", Timestamptz, default=None, null=True)
    add("Tenant", "tenants", "lifecycle_suspended", Varchar, default="refuse", length=16)
    add("Tenant", "tenants", "lifecycle_expired", Varchar, default="refuse", length=16)
    return manager
