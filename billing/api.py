"""The tenant's billing over HTTP (thin): usage of a month, invoices, an invoice's PDF.

Every route needs a tenant's credentials (``caller``: API key, token or SNMS login; 401
without) and reads that tenant's rows only: there is no tenant in the path to change.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from billing.invoices import pdf
from billing.invoices.service import get_invoice, list_invoices
from billing.metering.report import daily_usage, usage_report
from billing.payments.services.bank import payee_text
from billing.schemas import InvoiceDetail, InvoiceList, UsageReport
from core.auth import Principal
from core.errors import InsufficientPermissions
from core.openapi import ok
from core.settings import get_settings


def _tenant(caller: Principal) -> int:
    if caller.tenant_id is None or not caller.can("read"):
        raise InsufficientPermissions("billing needs a tenant's credentials with the read scope")
    return caller.tenant_id


@get("/api/billing/usage", tags=["Billing"], summary="Your usage and charges of a month")
async def billing_usage(
    caller: NamedDependency[Principal],
    month: Annotated[str | None, QueryParameter(required=False, max_length=7)] = None,
) -> UsageReport:
    tenant_id = _tenant(caller)
    report = await usage_report(tenant_id, month)
    report["days"] = await daily_usage(tenant_id, report["month"])
    return msgspec.convert({"prefix": caller.tenant_prefix, **report}, UsageReport)


@get("/api/billing/invoices", tags=["Billing"], summary="Your invoices and credit notes")
async def billing_invoices(caller: NamedDependency[Principal]) -> InvoiceList:
    return msgspec.convert({"invoices": await list_invoices(_tenant(caller))}, InvoiceList)


@get("/api/billing/invoices/{number:str}", tags=["Billing"], summary="One invoice with lines")
async def billing_invoice(
    caller: NamedDependency[Principal], number: FromPath[str]
) -> InvoiceDetail:
    return msgspec.convert(await get_invoice(_tenant(caller), number[:64]), InvoiceDetail)


@get("/api/billing/invoices/{number:str}/pdf", tags=["Billing"], summary="An invoice as PDF",
     responses=ok(str, media_type="application/pdf"))  # fmt: skip
async def billing_invoice_pdf(
    caller: NamedDependency[Principal],
    number: FromPath[str],
    lang: Annotated[str, QueryParameter(required=False, pattern="^(zh|en)$")] = "zh",
) -> Response[bytes]:
    invoice = await get_invoice(_tenant(caller), number[:64])
    payee = payee_text(get_settings(), lang)
    body = pdf.render(invoice, prefix=caller.tenant_prefix or "", lang=lang, payee=payee)
    return Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{invoice["number"]}.pdf"'},
    )


ROUTES = [billing_usage, billing_invoices, billing_invoice, billing_invoice_pdf]
