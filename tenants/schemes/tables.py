"""Tables of the schemes app.

Namespaces are unique per (scheme, value) across the node, so two tenants can never
claim the same GS1 company prefix or issuer code; every other table is tenant-owned and
its unique keys include the tenant.
"""

from __future__ import annotations

from piccolo.columns import Boolean, ForeignKey, OnDelete, Serial, Timestamptz, Varchar
from piccolo.constraints import Unique
from piccolo.table import Table

from tenants.accounts.tables import Tenant

SCHEMES = ("gs1", "oid", "ecode", "vaa")
NAMESPACE_STATUSES = ("pending", "verified", "rejected")


class SchemeNamespace(Table, tablename="scheme_namespaces"):
    """A tenant's namespace in one scheme: GS1 company prefix, OID sub-arc, issuer code."""

    id: Serial
    tenant_id = ForeignKey(Tenant, on_delete=OnDelete.restrict, null=False, index=True)
    scheme = Varchar(length=8)
    value = Varchar(length=255)
    status = Varchar(length=16, default="pending")
    requested_by = Varchar(length=255, default="")
    created_at = Timestamptz()
    verified_by = Varchar(length=255, default="")
    verified_at = Timestamptz(null=True, default=None)
    note = Varchar(length=1024, default="")
    scheme_namespaces_unique = Unique(
        ["scheme", "value"], name="scheme_namespaces_scheme_value_unique"
    )


class SchemeCode(Table, tablename="scheme_codes"):
    """A code registered in a scheme, bound to a Handle record of the same tenant.

    ``code`` is canonical: a GS1 Digital Link path (``/01/09506000134352``), a dotted
    OID, or an upper-cased Ecode / VAA code.
    """

    id: Serial
    tenant_id = ForeignKey(Tenant, on_delete=OnDelete.restrict, null=False, index=True)
    scheme = Varchar(length=8)
    code = Varchar(length=1024)
    handle = Varchar(length=2048)
    created_at = Timestamptz()
    scheme_codes_unique = Unique(
        ["tenant_id", "scheme", "code"], name="scheme_codes_tenant_code_unique"
    )


class GS1Link(Table, tablename="gs1_links"):
    """One link of a GS1 Digital Link key path (a primary key, or with qualifiers)."""

    id: Serial
    tenant_id = ForeignKey(Tenant, on_delete=OnDelete.restrict, null=False, index=True)
    key_path = Varchar(length=1024)
    link_type = Varchar(length=255)
    href = Varchar(length=2048)
    title = Varchar(length=512, default="")
    language = Varchar(length=35, default="")
    context = Varchar(length=255, default="")
    media_type = Varchar(length=255, default="")
    is_default = Boolean(default=False)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    gs1_links_unique = Unique(
        ["tenant_id", "key_path", "link_type", "language", "context", "media_type"],
        name="gs1_links_tenant_variant_unique",
    )


class GS1Item(Table, tablename="gs1_items"):
    """What a GS1 key path identifies, in words (a product, a lot, a location): the
    ``itemDescription`` of its linkset, which GS1's linkset schema requires."""

    id: Serial
    tenant_id = ForeignKey(Tenant, on_delete=OnDelete.restrict, null=False, index=True)
    key_path = Varchar(length=1024)
    description = Varchar(length=500)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    gs1_items_unique = Unique(["tenant_id", "key_path"], name="gs1_items_tenant_key_unique")


class CodeMapping(Table, tablename="code_mappings"):
    """A tenant's private code (内部编码) mapped to one of its public identifiers."""

    id: Serial
    tenant_id = ForeignKey(Tenant, on_delete=OnDelete.restrict, null=False, index=True)
    private_code = Varchar(length=512)
    # What the tenant gave (a handle, or "gs1:/01/...", "oid:1.2...") and the handle it
    # resolves to; handle_key is ASCII-folded for the reverse look-up.
    public = Varchar(length=2048)
    handle = Varchar(length=2048)
    handle_key = Varchar(length=2048, index=True)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    code_mappings_unique = Unique(
        ["tenant_id", "private_code"], name="code_mappings_tenant_private_unique"
    )
