"""The tenant console's Usage and Invoices pages (billing/: usage from core/usage.py).

Every page starts with ``require_member`` for the prefix in the URL (404 otherwise) and
reads that tenant's rows only; an invoice number of another tenant is simply not found.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath

from billing.invoices import pdf
from billing.invoices.service import get_invoice, list_invoices
from billing.invoices.text import LABELS
from billing.metering.report import checked_month, daily_usage, usage_report
from billing.money import format_yuan
from billing.payments.services.bank import payee_text
from core import usage
from core.settings import get_settings
from portal.web.chart import bar_chart
from portal.web.common import gettext_for, lang_of, page, require_member


@get("/console/{prefix:str}/usage", include_in_schema=False)
async def usage_page(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[str]:
    _v, m = await require_member(request, prefix)
    month = checked_month(request.query_params.get("month", "")[:7] or None)
    report = await usage_report(m.tenant_id, month)
    days = await daily_usage(m.tenant_id, month)
    through = date.fromisoformat(report["through"])
    shown = [d for d in days if date.fromisoformat(d["day"]) <= through]
    per_day = {date.fromisoformat(d["day"]): d["resolutions"] for d in shown}
    regs = {date.fromisoformat(d["day"]): d["registrations"] for d in shown}
    _ = gettext_for(request)
    n = max(1, len(shown))
    return await page(
        request,
        "console/usage.html",
        m=m,
        r=report,
        yuan=format_yuan,
        month=month,
        days=shown,
        resolutions_chart=bar_chart(per_day, today=through, days=n, title=_("Resolutions per day")),
        registrations_chart=bar_chart(
            regs, today=through, days=n, title=_("Registrations per day")
        ),
    )


@get("/console/{prefix:str}/invoices", include_in_schema=False)
async def invoices_page(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[str]:
    _v, m = await require_member(request, prefix)
    rows = await list_invoices(m.tenant_id)
    preview = await usage_report(m.tenant_id, usage.month_of(usage.now()))
    return await page(
        request, "console/invoices.html", m=m, rows=rows, yuan=format_yuan, preview=preview
    )


@get("/console/{prefix:str}/invoices/{number:str}", include_in_schema=False)
async def invoice_page(
    request: Request[Any, Any, Any], prefix: FromPath[str], number: FromPath[str]
) -> Response[str]:
    _v, m = await require_member(request, prefix)
    invoice = await get_invoice(m.tenant_id, number[:64])
    doc_lang = "zh" if lang_of(request) == "zh_CN" else "en"
    return await page(
        request,
        "console/invoice.html",
        m=m,
        inv=invoice,
        yuan=format_yuan,
        t=LABELS[doc_lang],
        doc_lang=doc_lang,
        payee=payee_text(get_settings(), doc_lang),
    )


@get("/console/{prefix:str}/invoices/{number:str}/pdf", include_in_schema=False)
async def invoice_pdf(
    request: Request[Any, Any, Any], prefix: FromPath[str], number: FromPath[str]
) -> Response[bytes]:
    _v, m = await require_member(request, prefix)
    invoice = await get_invoice(m.tenant_id, number[:64])
    lang = "en" if request.query_params.get("lang") == "en" else "zh"
    return Response(
        pdf.render(invoice, prefix=m.prefix, lang=lang, payee=payee_text(get_settings(), lang)),
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{invoice["number"]}.pdf"',
            "Cache-Control": "no-store",
        },
    )


ROUTES = [usage_page, invoices_page, invoice_page, invoice_pdf]
