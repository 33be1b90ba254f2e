"""Metadata templates (标识模板): the node's core and industry templates and tenants' own.

Node-level templates (core and industry, from the top-level node) have ``tenant_id``
null and ``owner`` 0; a tenant's own templates have ``owner`` = its id, so one unique
key ``(owner, code, version)`` covers both without NULLs in it. The table belongs to the
``registry`` Piccolo app (migrations/registry).
"""

from __future__ import annotations

from piccolo.columns import Integer, Serial, Text, Timestamptz, Varchar
from piccolo.constraints import Unique
from piccolo.table import Table


class MetadataTemplate(Table, tablename="metadata_templates"):
    """One version of a template. A version row never changes once written, so a record
    that declares ``code@version`` at index 1001 validates against it for ever."""

    id: Serial
    tenant_id = Integer(null=True, default=None, index=True)
    owner = Integer(default=0)
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
    metadata_templates_unique_code_version = Unique(
        ["owner", "code", "version"], name="metadata_templates_owner_code_version_unique"
    )
