"""Tables of payments: money received, its matching, and what Stripe was told.

Every tenant table here is declared in core/tenancy.py. A bank transfer is recorded
before anyone knows whose it is, so ``bank_transfers.tenant_id`` stays NULL until it is
matched; Stripe webhook event ids are node-wide because they are checked before the
tenant is known (the replay guard).
"""

from __future__ import annotations

from piccolo.columns import (
    BigInt,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Timestamptz,
    Varchar,
)
from piccolo.constraints import Unique
from piccolo.table import Table

from tenants.accounts.tables import Tenant

TRANSFER_STATES = ("unmatched", "matched")
DUNNING_STATES = ("grace", "suspended", "closed")


class StripeCustomer(Table, tablename="stripe_customers"):
    """The Stripe customer of a tenant (one each)."""

    id: Serial
    tenant_id = ForeignKey(Tenant, on_delete=OnDelete.restrict, null=False, index=True)
    customer_id = Varchar(length=128)
    email = Varchar(length=320, default="")
    name = Varchar(length=255, default="")
    created_at = Timestamptz()
    updated_at = Timestamptz()
    stripe_customers_tenant_unique = Unique(["tenant_id"], name="stripe_customers_tenant_unique")


class MeterEvent(Table, tablename="stripe_meter_events"):
    """Durable intent to send one Billing Meter event: a row per tenant, meter and hour.

    The identifier is the event's idempotency key at Stripe too, so a resend after a
    crash or a timeout is one event there, never two.
    """

    id: Serial
    tenant_id = ForeignKey(Tenant, on_delete=OnDelete.restrict, null=False, index=True)
    event_name = Varchar(length=100)
    window_start = Timestamptz()
    value = BigInt(default=0)
    identifier = Varchar(length=100)
    created_at = Timestamptz()
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz()
    delivered_at = Timestamptz(null=True, default=None)
    last_error = Varchar(length=500, default="")
    stripe_meter_events_unique = Unique(
        ["tenant_id", "identifier"], name="stripe_meter_events_unique"
    )


class StripeInvoice(Table, tablename="stripe_invoices"):
    """An idnest invoice pushed to Stripe (so the tenant can pay it there), once."""

    id: Serial
    tenant_id = ForeignKey(Tenant, on_delete=OnDelete.restrict, null=False, index=True)
    invoice_number = Varchar(length=64)
    stripe_invoice_id = Varchar(length=128)
    hosted_url = Varchar(length=1024, default="")
    created_at = Timestamptz()
    stripe_invoices_unique = Unique(
        ["tenant_id", "invoice_number"], name="stripe_invoices_number_unique"
    )


class StripeWebhookEvent(Table, tablename="stripe_webhook_events"):
    """Each Stripe event id acted on, once: a replayed event finds its row and stops."""

    id: Serial
    event_id = Varchar(length=128, unique=True)
    event_type = Varchar(length=100)
    tenant_ref = Integer(null=True, default=None)
    outcome = Varchar(length=255, default="")
    received_at = Timestamptz()


class Payment(Table, tablename="payments"):
    """Money applied to one of the tenant's invoices (Stripe or a matched transfer)."""

    id: Serial
    tenant_id = ForeignKey(Tenant, on_delete=OnDelete.restrict, null=False, index=True)
    invoice_number = Varchar(length=64, default="")
    method = Varchar(length=16)
    amount_fen = BigInt()
    currency = Varchar(length=3, default="CNY")
    paid_on = Date()
    payer = Varchar(length=255, default="")
    reference = Varchar(length=128, default="")
    # The Stripe invoice id, or "bank:<transfer id>": one payment per source.
    external_id = Varchar(length=128)
    created_at = Timestamptz()
    payments_source_unique = Unique(["tenant_id", "external_id"], name="payments_source_unique")


class BankTransfer(Table, tablename="bank_transfers"):
    """A received bank transfer (对公转账), as finance recorded or imported it."""

    id: Serial
    tenant_id = ForeignKey(Tenant, on_delete=OnDelete.restrict, null=True, index=True)
    amount_fen = BigInt()
    currency = Varchar(length=3, default="CNY")
    received_on = Date()
    payer = Varchar(length=255, default="")
    payer_account = Varchar(length=64, default="")
    reference = Varchar(length=128, default="")
    # The bank's transaction id (or a digest of the row): a statement imported twice
    # records each transfer once.
    bank_ref = Varchar(length=128, unique=True)
    status = Varchar(length=16, default="unmatched")
    invoice_number = Varchar(length=64, default="")
    recorded_by = Varchar(length=255, default="")
    created_at = Timestamptz()


class FapiaoProfile(Table, tablename="fapiao_profiles"):
    """A tenant's invoicing details (开票信息) for its VAT fapiao."""

    id: Serial
    tenant_id = ForeignKey(Tenant, on_delete=OnDelete.restrict, null=False, index=True)
    buyer_name = Varchar(length=255, default="")
    taxpayer_id = Varchar(length=18, default="")
    address_phone = Varchar(length=255, default="")
    bank_account = Varchar(length=255, default="")
    updated_by = Varchar(length=255, default="")
    updated_at = Timestamptz()
    fapiao_profiles_tenant_unique = Unique(["tenant_id"], name="fapiao_profiles_tenant_unique")


class DunningCase(Table, tablename="dunning_cases"):
    """A failed or overdue payment: grace, reminders, then suspended writes."""

    id: Serial
    tenant_id = ForeignKey(Tenant, on_delete=OnDelete.restrict, null=False, index=True)
    invoice_number = Varchar(length=64, default="")
    reason = Varchar(length=255, default="")
    status = Varchar(length=16, default="grace")
    opened_at = Timestamptz()
    grace_until = Timestamptz()
    reminders_sent = Integer(default=0)
    last_reminder_at = Timestamptz(null=True, default=None)
    suspended_at = Timestamptz(null=True, default=None)
    closed_at = Timestamptz(null=True, default=None)


TABLES = [
    StripeCustomer,
    MeterEvent,
    StripeInvoice,
    StripeWebhookEvent,
    Payment,
    BankTransfer,
    FapiaoProfile,
    DunningCase,
]
