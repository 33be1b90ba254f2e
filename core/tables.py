"""Kernel tables: the audit log, the outbox, the periodic-job leases, the usage ledger
and the escrow log.

The outbox is durable intent: a write that must reach the top-level node or billing is
recorded here in the same transaction as the change itself, and delivered later. The
broker only delivers; a lost message is re-driven from these rows, never lost.
"""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    BigInt,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Timestamptz,
    Varchar,
)
from piccolo.columns.indexes import IndexMethod
from piccolo.columns.reference import LazyTableReference
from piccolo.constraints import Unique
from piccolo.table import Table


def _tenant_fk() -> ForeignKey:
    # Lazy: the kernel does not import the tenants package; Piccolo resolves it by name.
    return ForeignKey(
        LazyTableReference("Tenant", app_name="tenants"),
        on_delete=OnDelete.restrict,
        null=True,
        default=None,
        index=True,
    )


class AuditLog(Table, tablename="audit_log"):
    id: Serial
    # Null for node-level events (staff actions on no tenant, node settings).
    tenant_id = _tenant_fk()
    actor = Varchar(length=255, help_text="user:<id>, key:<key id>, staff:<id>, cli or system")
    action = Varchar(length=64)
    target = Varchar(length=2048, default="")
    detail = JSON(default="{}")
    created_at = Timestamptz(index=True)
    # The hash chain (core/audit.py): the entry's place, the hash of the entry before
    # it, and its own hash over both and its fields.
    seq = BigInt(default=0)
    prev_hash = Varchar(length=64, default="")
    hash = Varchar(length=64, default="")


class AuditHead(Table, tablename="audit_head"):
    """The chain's head (one row, id 1): the last entry's place and hash. Appends lock
    it (SELECT ... FOR UPDATE on PostgreSQL; SQLite has one writer), so the chain never
    forks. Node-level, not a tenant's: every tenant's entries are links of one chain."""

    id: Serial
    seq = BigInt(default=0)
    hash = Varchar(length=64, default="")


class Outbox(Table, tablename="outbox"):
    id: Serial
    tenant_id = _tenant_fk()
    # upstream.identifier, upstream.tenant, billing.usage, ...
    topic = Varchar(length=64, index=True, index_method=IndexMethod.btree)
    payload = JSON(default="{}")
    created_at = Timestamptz()
    delivered_at = Timestamptz(null=True, default=None, index=True)
    attempts = Integer(default=0)
    last_error = Varchar(length=1024, default="")
    # What the receiver de-duplicates on: a redelivered message carries the same id.
    event_id = Varchar(length=40, default="", index=True, index_method=IndexMethod.btree)
    # Durable backoff: the row is not tried again before this (core.delivery).
    next_attempt_at = Timestamptz(null=True, default=None)
    # Dead letter: refused too often; staff see it and may send it again.
    dead_at = Timestamptz(null=True, default=None)
    # A cadence message is enqueued once per period: "node-stats:2026-12-01".
    dedupe_key = Varchar(length=128, null=True, default=None, unique=True)


class ScheduledJob(Table, tablename="scheduled_jobs"):
    """One periodic job's schedule and lease (core.scheduler).

    A process runs the job only after it has moved ``due_at`` forward with a
    compare-and-set, so however many processes check, one of them wins each period.
    ``token`` names the current claim; the runner marks it started (again a
    compare-and-set, so a redelivered message does nothing) and clears it when done.
    """

    id: Serial
    name = Varchar(length=64, unique=True)
    due_at = Timestamptz()
    token = Varchar(length=40, default="")
    claimed_by = Varchar(length=128, default="")
    # A claim whose lease has run out belongs to a runner that died; it may be retaken.
    lease_until = Timestamptz(null=True, default=None)
    started_at = Timestamptz(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)
    # ok or error: the last finished run
    status = Varchar(length=16, default="")
    detail = Varchar(length=1024, default="")
    runs = Integer(default=0)


class EscrowChange(Table, tablename="escrow_changes"):
    """One change to an escrowed row (core.changelog): written by a database trigger in
    the changing transaction, so no write path can forget it, erasure included.

    ``xid`` is the writing transaction's id on PostgreSQL (``pg_current_xact_id()``); an
    escrow set takes the changes below its snapshot's xmin, which are all committed or
    gone. On SQLite writers are serialised, so ``id`` order is commit order and ``xid``
    stays NULL.
    """

    id: Serial
    table_name = Varchar(length=64)
    row_id = BigInt()
    # insert, update or delete (the last is the tombstone a DIFF carries)
    op = Varchar(length=8)
    xid = BigInt(null=True, default=None, index=True)


class EscrowSet(Table, tablename="escrow_sets"):
    """One escrow set (数据托管): a FULL or a DIFF since ``base``'s watermark.

    The row exists before the set's files do (status ``writing``), so a run killed
    midway is found and finished by the next one; ``written`` sets are uploaded in
    number order and a failed upload is retried, never skipped.
    """

    id: Serial
    name = Varchar(length=96, unique=True)
    kind = Varchar(length=8)
    base_id = Integer(null=True, default=None)
    # Changes below this mark are in this set (xmin on PostgreSQL, a change id on SQLite).
    watermark = BigInt(default=0)
    path = Varchar(length=1024)
    # writing, written, uploaded
    status = Varchar(length=16, default="writing", index=True)
    changes = BigInt(default=0)
    created_at = Timestamptz()
    written_at = Timestamptz(null=True, default=None)
    uploaded_at = Timestamptz(null=True, default=None)
    attempts = Integer(default=0)
    last_error = Varchar(length=1024, default="")


class NodeProfile(Table, tablename="node_profile"):
    """The node operator's profile and the node's type and name (REFERENCE §4), kept by
    staff in the console (core.node); one row. Sent upstream whenever it changes."""

    id: Serial
    node_name = Varchar(length=255, default="")
    node_type = Varchar(length=64, default="enterprise")
    operator_name = Varchar(length=255, default="")
    credit_code = Varchar(length=18, default="")
    legal_representative = Varchar(length=255, default="")
    system_location = Varchar(length=255, default="")
    data_location = Varchar(length=255, default="")
    escrow_provider = Varchar(length=255, default="")
    updated_at = Timestamptz(null=True, default=None)
    updated_by = Varchar(length=64, default="")


class TemplateRequest(Table, tablename="template_requests"):
    """A request to the top-level node for a new industry template (the guideline's
    application for industry metadata); its status is its outbox message's."""

    id: Serial
    industry = Varchar(length=8)
    name = Varchar(length=255)
    description = Varchar(length=2000, default="")
    requested_by = Varchar(length=64, default="")
    event_id = Varchar(length=40, default="")
    created_at = Timestamptz()


class UsageEntry(Table, tablename="usage_ledger"):
    """Append-only usage: one row per write transaction that created identifiers, and
    one per tenant per resolution-counter flush (core/usage.py).

    ``source`` names what the row counts (``reg:<uuid>`` for a write, ``res:<window>`` for
    a flush); it is unique per tenant, so a flush that is sent again counts once.
    ``hour`` is the UTC hour the usage fell in (Asia/Shanghai hours are the same hours).
    """

    id: Serial
    tenant_id: ForeignKey = ForeignKey(
        LazyTableReference("Tenant", app_name="tenants"), on_delete=OnDelete.restrict, null=False
    )
    hour = Timestamptz(index=True)
    source = Varchar(length=96)
    registrations = BigInt(default=0)
    resolutions = BigInt(default=0)
    not_found = BigInt(default=0)
    created_at = Timestamptz()
    usage_ledger_source_unique = Unique(["tenant_id", "source"], name="usage_ledger_source_unique")
