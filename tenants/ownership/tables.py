"""Export jobs (a tenant's), staff imports, and closures (the node's record of an
offboarding)."""

from __future__ import annotations

from piccolo.columns import BigInt, ForeignKey, Integer, OnDelete, Serial, Timestamptz, Varchar
from piccolo.table import Table

from tenants.accounts.tables import Tenant


class TenantExport(Table, tablename="tenant_exports"):
    """Durable intent of one export: the job row a worker (or the embedded process)
    runs; a run killed midway leaves ``running`` and is started again from scratch."""

    id: Serial
    tenant_id = ForeignKey(Tenant, on_delete=OnDelete.restrict, null=False, index=True)
    public_id = Varchar(length=40, unique=True)
    status = Varchar(length=16, default="queued")
    rows_done = BigInt(default=0)
    rows_total = BigInt(default=0)
    path = Varchar(length=1024, default="")
    size = BigInt(default=0)
    # The download's bearer token is the (unguessable) public id plus this, signed in
    # the URL; it expires at ``expires_at``.
    token = Varchar(length=64, default="")
    actor = Varchar(length=255, default="")
    error = Varchar(length=1024, default="")
    created_at = Timestamptz()
    updated_at = Timestamptz()
    expires_at = Timestamptz(null=True, default=None)


class TenantClosure(Table, tablename="tenant_closures"):
    """An owner's request to close, its grace period, and the erasure that followed.

    A node table: it outlives the tenant's rows, as the erasure's own record."""

    id: Serial
    tenant_ref = Integer(index=True)
    prefix = Varchar(length=255)
    status = Varchar(length=16, default="pending")  # pending, cancelled, erased
    export_id = Varchar(length=40, default="")
    actor = Varchar(length=255, default="")
    reason = Varchar(length=1024, default="")
    requested_at = Timestamptz()
    erase_after = Timestamptz()
    finished_at = Timestamptz(null=True, default=None)


class TenantImport(Table, tablename="tenant_imports"):
    """Durable intent of one staff import: the uploaded archive and the job's state.

    A node table: the tenant it makes does not exist until the import commits (the row
    is marked ``done`` in that same transaction, with the prefix it made)."""

    id: Serial
    public_id = Varchar(length=40, unique=True)
    status = Varchar(length=16, default="queued")  # queued, running, done, failed
    path = Varchar(length=1024, default="")
    size = BigInt(default=0)
    prefix = Varchar(length=255, default="")
    rows_done = BigInt(default=0)
    rows_total = BigInt(default=0)
    actor = Varchar(length=255, default="")
    error = Varchar(length=1024, default="")
    created_at = Timestamptz()
    updated_at = Timestamptz()
