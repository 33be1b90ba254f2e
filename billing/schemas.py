"""What the tenant's billing API answers (msgspec). The handlers convert the services'
figures into these, so the OpenAPI states what is sent. Money is integer fen."""

from __future__ import annotations

import msgspec


class UsageLine(msgspec.Struct):
    kind: str  # fee, registrations, resolutions, credit
    description: str
    description_zh: str
    quantity: int
    unit_price_fen: int
    amount_fen: int


class UsageDay(msgspec.Struct):
    day: str  # YYYY-MM-DD, Asia/Shanghai
    registrations: int
    resolutions: int
    not_found: int


class UsageReport(msgspec.Struct):
    """A month so far (a preview of its invoice) or a closed month."""

    prefix: str | None
    month: str  # YYYY-MM, Asia/Shanghai
    through: str  # the last day the figures cover
    registrations: int
    resolutions: int
    not_found: int
    plan: str | None
    currency: str
    included_registrations: int
    included_resolutions: int
    registration_cap: int | None
    fee_fen: int
    overage_fen: int
    total_fen: int
    lines: list[UsageLine]
    days: list[UsageDay]


class InvoiceOut(msgspec.Struct):
    number: str
    kind: str  # invoice, credit_note
    month: str
    status: str
    currency: str
    total_fen: int
    paid_fen: int
    due_fen: int
    issued_at: str
    due_on: str
    void_reason: str


class InvoiceLineOut(msgspec.Struct):
    kind: str
    description_en: str
    description_zh: str
    quantity: int
    unit_price_fen: int
    unit: int
    amount_fen: int


class InvoiceDetail(InvoiceOut):
    lines: list[InvoiceLineOut]


class InvoiceList(msgspec.Struct):
    invoices: list[InvoiceOut]


class WebhookAnswer(msgspec.Struct):
    received: bool
    outcome: str  # what the event did; "replayed" for one already handled
