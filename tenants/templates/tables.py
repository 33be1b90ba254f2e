"""Metadata templates (标识模板): the node's core and industry templates and tenants' own.

Node-level templates (core and industry, from the top-level node) have ``tenant_id``
null; a tenant's own templates have its id. Two partial unique indexes (made by the
migration; Piccolo's ``Unique`` cannot say ``WHERE``) keep ``(code, version)`` unique
among the node's and ``(tenant_id, code, version)`` among each tenant's. The table
belongs to the ``registry`` Piccolo app (migrations/registry).
"""

from __future__ import annotations

from piccolo.columns import ForeignKey, Integer, OnDelete, Serial, Text, Timestamptz, Varchar
from piccolo.columns.reference import LazyTableReference
from piccolo.table import Table


class MetadataTemplate(Table, tablename="metadata_templates"):
    """One version of a template. A version row never changes once written, so a record
    that declares ``code@version`` at index 1001 validates against it for ever."""

    id: Serial
    # By name: this context does not import accounts (Piccolo resolves the reference).
    tenant_id: ForeignKey = ForeignKey(
        LazyTableReference("Tenant", app_name="tenants"),
        on_delete=OnDelete.restrict,
        null=True,
        default=None,
        index=True,
    )
    code = Varchar(length=64)
    version = Integer(default=1)
    name = Varchar(length=255, default="")
    # core, industry (node templates) or tenant (a tenant's extension)
    kind = Varchar(length=16, default="industry")
    industry_category = Varchar(length=8, default="")
    industry_specific = Varchar(length=8, default="")
    industry_trade = Varchar(length=8, default="")
    industry_subclass = Varchar(length=8, default="")
    # SNMS carrier type: 1 active carrier, 2 other
    carrier_type = Integer(default=2)
    extends = Varchar(length=96, default="")
    items = Text(default="[]")
    created_at = Timestamptz()
    created_by = Varchar(length=255, default="")
