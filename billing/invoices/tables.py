"""Invoices and their lines. Issued rows never change their amounts: a correction is a
credit note (an invoice of kind ``credit_note`` with negative lines, pointing at the
invoice it corrects). Payments (billing/payments) change only ``status``/``paid_fen``.
"""

from __future__ import annotations

from piccolo.columns import (
    JSON,
    BigInt,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Timestamptz,
    Varchar,
)
from piccolo.columns.reference import LazyTableReference
from piccolo.constraints import Unique
from piccolo.table import Table

from tenants.accounts.tables import Tenant

# Invoice.status: issued -> paid | void (| overdue, set by dunning).
STATUS_ISSUED = "issued"
STATUS_PAID = "paid"
STATUS_VOID = "void"
KIND_INVOICE = "invoice"
KIND_CREDIT_NOTE = "credit_note"


class Invoice(Table, tablename="billing_invoices"):
    id: Serial
    tenant_id = ForeignKey(Tenant, on_delete=OnDelete.restrict, null=False)
    # INV-YYYYMM-<tenant id> for a month's invoice, CN-YYYYMM-<tenant id>-<n> for a credit
    # note: quoted as the reference of a bank transfer, so unique across the node.
    number = Varchar(length=64, unique=True)
    kind = Varchar(length=16, default=KIND_INVOICE)
    month = Varchar(length=7)  # YYYY-MM, an Asia/Shanghai calendar month
    status = Varchar(length=16, default=STATUS_ISSUED)
    currency = Varchar(length=3, default="CNY")
    total_fen = BigInt(default=0)
    paid_fen = BigInt(default=0)
    plan_codes = Varchar(length=255, default="")
    issued_at = Timestamptz()
    due_on = Date()
    voided_at = Timestamptz(null=True, default=None)
    void_reason = Varchar(length=1024, default="")
    # For a credit note: the invoice it corrects.
    corrects: ForeignKey = ForeignKey(
        LazyTableReference("Invoice", module_path=__name__),
        on_delete=OnDelete.restrict,
        null=True,
        default=None,
    )
    # "close:YYYY-MM" for the month's invoice (so a second close makes nothing), or
    # "credit:<uuid>" for a credit note.
    close_key = Varchar(length=64)
    billing_invoices_close_unique = Unique(
        ["tenant_id", "close_key"], name="billing_invoices_close_unique"
    )


class InvoiceLine(Table, tablename="billing_invoice_lines"):
    id: Serial
    tenant_id = ForeignKey(Tenant, on_delete=OnDelete.restrict, null=False)
    invoice = ForeignKey(Invoice, on_delete=OnDelete.restrict, null=False, index=True)
    position = Integer(default=0)
    # fee, included_registrations, included_resolutions, registration_overage,
    # resolution_overage, credit
    kind = Varchar(length=32)
    description_en = Varchar(length=512, default="")
    description_zh = Varchar(length=512, default="")
    quantity = BigInt(default=0)
    unit_price_fen = BigInt(default=0)
    # What unit_price_fen is the price of: 1 (a registration), 1000 (resolutions), or
    # for the fee the days charged (of ``detail.days_in_month``).
    unit = BigInt(default=1)
    amount_fen = BigInt(default=0)
    detail = JSON(default="{}")
