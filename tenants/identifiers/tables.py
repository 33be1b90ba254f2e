"""Tables of the identifiers context: records, SNMS accounts, idempotency keys, bulk jobs.

``Identifier`` belongs to the ``tenants`` Piccolo app and the rest to ``registry``
(their migration folders predate this package); the table names are what matter.
"""

from __future__ import annotations

from piccolo.columns import (
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.constraints import Unique
from piccolo.table import Table

from tenants.accounts.tables import Tenant


class Identifier(Table, tablename="identifiers"):
    """A registered identifier (标识) and its record, stored as canonical JSON values."""

    id: Serial
    tenant_id = ForeignKey(Tenant, on_delete=OnDelete.restrict, null=False)
    handle = Varchar(length=2048)
    # ASCII-folded handle: look-up is case-insensitive for ASCII only.
    handle_key = Varchar(length=2048)
    values = Text(default="[]")
    # What search looks in: the folded handle and the text of the searchable values,
    # one per line (tenants.identifiers.services.search.index_text). One trigram index
    # over these few dozen bytes costs a bulk load a quarter of what one over the JSON did.
    search_text = Text(default="")
    created_at = Timestamptz()
    updated_at = Timestamptz()
    version = Integer(default=1)
    # Lifecycle (tenants.identifiers.services.lifecycle): active, suspended, revoked or
    # expired, since when and why; and the optional validity window. "Expired" is also
    # derived at answer time from valid_until, so nothing writes when a window closes.
    status = Varchar(length=16, default="active")
    status_since = Timestamptz(null=True, default=None)
    status_reason = Varchar(length=255, default="")
    valid_from = Timestamptz(null=True, default=None)
    valid_until = Timestamptz(null=True, default=None)
    # The last moment up to which the window's edges were told upstream (a lifecycle
    # change tells everything up to its own time; services/window_edges.py the rest).
    window_reported_at = Timestamptz(null=True, default=None)
    unique_handle = Unique(["tenant_id", "handle_key"], name="identifiers_tenant_handle_unique")


class SnmsAccount(Table, tablename="snms_accounts"):
    """A login for SNMS-style clients (``/identity/token``), acting for one tenant."""

    id: Serial
    tenant_id = ForeignKey(Tenant, on_delete=OnDelete.restrict, null=False, index=True)
    username = Varchar(length=128, unique=True)
    password_hash = Varchar(length=255)
    # sha256(password), encrypted with the node key: /identity/token/v1 needs it.
    v1_digest = Varchar(length=255, default="")
    role = Varchar(length=16, default="developer")
    is_active = Boolean(default=True)
    created_at = Timestamptz()


class IdempotencyKey(Table, tablename="idempotency_keys"):
    """A request already answered: written in the same transaction as its write."""

    id: Serial
    tenant_id = ForeignKey(Tenant, on_delete=OnDelete.restrict, null=False)
    key = Varchar(length=255)
    fingerprint = Varchar(length=64)
    response = Text(default="")
    created_at = Timestamptz(index=True)
    idempotency_keys_unique_tenant_key = Unique(
        ["tenant_id", "key"], name="idempotency_keys_tenant_key_unique"
    )


class BulkJob(Table, tablename="bulk_jobs"):
    """Durable intent of a bulk registration: ``done_rows`` is the resume cursor and is
    advanced in the same transaction as the rows it covers."""

    id: Serial
    tenant_id = ForeignKey(Tenant, on_delete=OnDelete.restrict, null=False, index=True)
    public_id = Varchar(length=40, unique=True)
    status = Varchar(length=16, default="queued")
    fmt = Varchar(length=8, default="ndjson")
    mode = Varchar(length=8, default="upsert")
    path = Varchar(length=1024, default="")
    total_rows = Integer(default=0)
    done_rows = Integer(default=0)
    ok_rows = Integer(default=0)
    failed_rows = Integer(default=0)
    actor = Varchar(length=255, default="")
    error = Varchar(length=1024, default="")
    created_at = Timestamptz()
    updated_at = Timestamptz()


class BulkJobFailure(Table, tablename="bulk_job_failures"):
    """Only failed rows are stored; every other row up to the cursor succeeded."""

    id: Serial
    # The job's tenant, copied onto each failure so the row is scoped like its job.
    tenant_id = ForeignKey(Tenant, on_delete=OnDelete.restrict, null=False)
    job_id = Integer(index=True)
    row_no = Integer()
    handle = Varchar(length=2048, default="")
    message = Varchar(length=1024, default="")
    bulk_job_failures_unique_job_row = Unique(
        ["tenant_id", "job_id", "row_no"], name="bulk_job_failures_job_row_unique"
    )
