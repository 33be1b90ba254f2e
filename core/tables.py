"""Kernel tables: the audit log and the outbox.

The outbox is durable intent: a write that must reach the top-level node or billing is
recorded here in the same transaction as the change itself, and delivered later. The
broker only delivers; a lost message is re-driven from these rows, never lost.
"""

from __future__ import annotations

from piccolo.columns import JSON, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table


class AuditLog(Table, tablename="audit_log"):
    id: Serial
    # Null for node-level events (staff actions on no tenant, node settings).
    tenant_id = Integer(null=True, index=True)
    actor = Varchar(length=255, help_text="user:<id>, key:<key id>, staff:<id>, cli or system")
    action = Varchar(length=64)
    target = Varchar(length=2048, default="")
    detail = JSON(default="{}")
    created_at = Timestamptz(index=True)


class Outbox(Table, tablename="outbox"):
    id: Serial
    tenant_id = Integer(null=True, index=True)
    # upstream.identifier, upstream.tenant, billing.usage, ...
    topic = Varchar(length=64, index=True, index_method=IndexMethod.btree)
    payload = JSON(default="{}")
    created_at = Timestamptz()
    delivered_at = Timestamptz(null=True, default=None, index=True)
    attempts = Integer(default=0)
    last_error = Varchar(length=1024, default="")
