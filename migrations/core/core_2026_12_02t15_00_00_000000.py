"""The audit log becomes a hash chain (core/audit.py).

Adds ``seq``, ``prev_hash`` and ``hash`` to audit_log and the one-row ``audit_head``,
and the next migration chains the rows that exist and on SQLite installs the triggers
that refuse UPDATE and DELETE (Piccolo runs raw steps before new columns exist). On PostgreSQL the application role's UPDATE and DELETE on
audit_log are revoked by ``idnest migrate`` itself (core/rls.py, after every grant).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import BigInt, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-02T15:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "audit_log hash chain: seq, prev_hash, hash; audit_head; append-only"


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


COLUMNS = {
    ("AuditLog", "audit_log"): [
        ("seq", BigInt, _params(default=0)),
        ("prev_hash", Varchar, _params(length=64)),
        ("hash", Varchar, _params(length=64)),
    ],
    ("AuditHead", "audit_head"): [
        ("seq", BigInt, _params(default=0)),
        ("hash", Varchar, _params(length=64)),
    ],
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core", description=DESCRIPTION)
    manager.add_table(class_name="AuditHead", tablename="audit_head", schema=None, columns=None)
    for (class_name, tablename), columns in COLUMNS.items():
        for name, cls, params in columns:
            manager.add_column(
                table_class_name=class_name, tablename=tablename, column_name=name,
                db_column_name=name, column_class_name=cls.__name__, column_class=cls,
                params=params, schema=None,
            )  # fmt: skip

    return manager
