"""The grants table: owned by the granting tenant, readable by the partner it names."""

from __future__ import annotations

from piccolo.columns import ForeignKey, OnDelete, Serial, Timestamptz, Varchar
from piccolo.constraints import Unique
from piccolo.table import Table

from tenants.accounts.tables import Tenant


class Grant(Table, tablename="grants"):
    """One grant: ``tenant_id`` (the owner) lets ``partner_id`` read what ``kind`` and
    ``selector`` name. Revoked grants stay, with who revoked them and when."""

    id: Serial
    tenant_id = ForeignKey(Tenant, on_delete=OnDelete.restrict, null=False, index=True)
    # A random id, named with its owner: a revocation is always the owner's.
    public_id = Varchar(length=40)
    partner_id = ForeignKey(Tenant, on_delete=OnDelete.restrict, null=False, index=True)
    # An OAuth2 client of the partner; "" for every credential of the partner.
    client_id = Varchar(length=128, default="")
    kind = Varchar(length=16)  # pattern, template or type
    selector = Varchar(length=255)
    actor = Varchar(length=255, default="")
    created_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)
    revoked_by = Varchar(length=255, default="")
    unique_public_id = Unique(["tenant_id", "public_id"], name="grants_tenant_public_id_unique")
