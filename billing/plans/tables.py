"""Plans and subscriptions. Money is integer fen (1/100 yuan) with its currency."""

from __future__ import annotations

from piccolo.columns import (
    BigInt,
    Boolean,
    Date,
    ForeignKey,
    OnDelete,
    Serial,
    Timestamptz,
    Varchar,
)
from piccolo.constraints import Unique
from piccolo.table import Table

from tenants.accounts.tables import Tenant


class Plan(Table, tablename="billing_plans"):
    """One entry of the node's price list. Node-wide: every tenant may be put on it."""

    id: Serial
    code = Varchar(length=64, unique=True)
    name = Varchar(length=255)
    currency = Varchar(length=3, default="CNY")
    monthly_fee_fen = BigInt(default=0)
    included_registrations = BigInt(default=0)
    included_resolutions = BigInt(default=0)
    registration_price_fen = BigInt(default=0)
    resolution_price_per_1000_fen = BigInt(default=0)
    # Registrations a month past which a write is refused (rc 604); NULL: no cap.
    registration_cap = BigInt(null=True, default=None)
    active = Boolean(default=True)
    created_at = Timestamptz()


class Subscription(Table, tablename="billing_subscriptions"):
    """From ``effective_from`` (an Asia/Shanghai day) the tenant is on ``plan``, until the
    next row of the same tenant. A tenant with no row is on the node's default plan."""

    id: Serial
    tenant_id = ForeignKey(Tenant, on_delete=OnDelete.restrict, null=False)
    plan = ForeignKey(Plan, on_delete=OnDelete.restrict, null=False)
    effective_from = Date()
    created_at = Timestamptz()
    actor = Varchar(length=255, default="")
    billing_subscriptions_day_unique = Unique(
        ["tenant_id", "effective_from"], name="billing_subscriptions_day_unique"
    )
