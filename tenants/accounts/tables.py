"""Enterprise nodes (企业节点) as tenants, their people and their API keys.

Every tenant-owned table carries ``tenant_id`` (a foreign key to the tenant), and every
unique key on it includes it, so one tenant's rows never constrain another's;
core/tenancy.py declares which tables those are.
"""

from __future__ import annotations

from piccolo.columns import (
    Boolean,
    ForeignKey,
    OnDelete,
    Serial,
    Timestamptz,
    Varchar,
)
from piccolo.constraints import Unique
from piccolo.table import Table

TENANT_STATUSES = ("pending", "active", "suspended", "closed", "erased", "released")
# An erased tenant's rows are gone (tenants.ownership); its identifiers answer 410 and
# its prefix stays allocated until staff release it.
ERASED = "erased"
CLOSED_STATUSES = ("closed", ERASED)
MEMBER_ROLES = ("owner", "admin", "developer", "viewer")


class Tenant(Table, tablename="tenants"):
    id: Serial
    # The enterprise prefix, e.g. 88.100.7. Allocated once and never reused, so a
    # closed tenant keeps its row.
    prefix = Varchar(length=255, unique=True)
    code = Varchar(length=64)
    name = Varchar(length=255)
    status = Varchar(length=16, default="pending")
    created_at = Timestamptz()
    updated_at = Timestamptz()
    # What the HTTP doors answer for this tenant's suspended / expired identifiers:
    # "refuse" (403 / 410 problem) or "serve" (as usual, with an Identifier-Status header).
    lifecycle_suspended = Varchar(length=16, default="refuse")
    lifecycle_expired = Varchar(length=16, default="refuse")


class User(Table, tablename="users"):
    id: Serial
    email = Varchar(length=320, unique=True)
    password_hash = Varchar(length=255, default="")
    display_name = Varchar(length=255, default="")
    is_staff = Boolean(default=False)
    # Comma-separated staff roles: admin, reviewer, operator, finance.
    staff_roles = Varchar(length=255, default="")
    is_active = Boolean(default=True)
    created_at = Timestamptz()


class Membership(Table, tablename="memberships"):
    id: Serial
    tenant_id = ForeignKey(Tenant, on_delete=OnDelete.restrict, null=False, index=True)
    user = ForeignKey(User, on_delete=OnDelete.cascade, index=True)
    role = Varchar(length=16)
    created_at = Timestamptz()
    unique_member = Unique(["tenant_id", "user"], name="memberships_tenant_user_unique")


class ApiKey(Table, tablename="api_keys"):
    id: Serial
    tenant_id = ForeignKey(Tenant, on_delete=OnDelete.restrict, null=False, index=True)
    # The visible part of the key ("idn_<key_id>_..."); the secret is stored hashed.
    key_id = Varchar(length=32, unique=True)
    secret_hash = Varchar(length=128)
    name = Varchar(length=255, default="")
    scopes = Varchar(length=255, default="read")
    created_at = Timestamptz()
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)
