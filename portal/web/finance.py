"""Finance pages (staff role ``finance``; admin passes) and the tenant's fapiao details.

Staff: invoices by month and status, usage per tenant, receivables ageing, payments and
bank-transfer matching (record one, import a statement, match by hand), the ledger
reconciled against Stripe, and every export. Tenant console: the invoicing details
(开票信息) its fapiao are issued to. Thin: everything is in billing/.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile

from billing.finance import exports, reconcile, service
from billing.money import format_yuan
from billing.payments.services import bank, fapiao
from core.errors import IdnestError
from core.limits import DbId
from core.settings import get_settings
from core.usage import month_of, now, shanghai_day
from portal.web.common import (
    describe_error,
    flash,
    page,
    pop_flash,
    redirect,
    require_member,
    require_staff,
)

FINANCE = ("finance",)
STATUSES = ("issued", "paid", "void")
MAX_FORM = 16 * 1024


def _month(request: Request[Any, Any, Any], default: bool = True) -> str | None:
    raw = request.query_params.get("month", "")[:7]
    return exports.check_month(raw) or (month_of(now()) if default else None)


async def _payments_page(
    request: Request[Any, Any, Any], status: int = 200, error: str = ""
) -> Any:
    return await page(
        request,
        "staff/finance.html",
        view="payments",
        status=status,
        error=error,
        flash=pop_flash(request),
        payments=await service.payments(),
        unmatched=await service.unmatched_transfers(),
        yuan=format_yuan,
        open_invoices=await service.invoices(status="issued"),
    )


@get("/staff/finance", include_in_schema=False)
async def finance_invoices(request: Request[Any, Any, Any]) -> Response[str]:
    await require_staff(request, *FINANCE)
    month = _month(request, default=False)
    status = request.query_params.get("status", "")
    rows = await service.invoices(month, status if status in STATUSES else None)
    return await page(
        request,
        "staff/finance.html",
        view="invoices",
        rows=rows,
        month=month or "",
        status_filter=status,
        statuses=STATUSES,
        yuan=format_yuan,
        total=sum(int(r["total_fen"]) for r in rows),
        paid=sum(int(r["paid_fen"]) for r in rows),
    )


@get("/staff/finance/usage", include_in_schema=False)
async def finance_usage(request: Request[Any, Any, Any]) -> Response[str]:
    await require_staff(request, *FINANCE)
    month = _month(request) or ""
    return await page(
        request,
        "staff/finance.html",
        view="usage",
        month=month,
        rows=await service.usage_rows(month),
    )


@get("/staff/finance/ageing", include_in_schema=False)
async def finance_ageing(request: Request[Any, Any, Any]) -> Response[str]:
    await require_staff(request, *FINANCE)
    rows = await service.ageing(shanghai_day(now()))
    return await page(
        request,
        "staff/finance.html",
        view="ageing",
        rows=rows,
        buckets=[b for b, _ in service.AGEING_BUCKETS],
        yuan=format_yuan,
    )


@get("/staff/finance/payments", include_in_schema=False)
async def finance_payments(request: Request[Any, Any, Any]) -> Response[str]:
    await require_staff(request, *FINANCE)
    return await _payments_page(request)


def _actor(viewer: Any) -> str:
    return f"staff:{viewer.id}"


@post("/staff/finance/transfers", include_in_schema=False, request_max_body_size=MAX_FORM)
async def record_transfer(request: Request[Any, Any, Any]) -> Response[Any]:
    viewer = await require_staff(request, *FINANCE)
    form = await request.form()
    try:
        t = bank.TransferIn(
            amount_fen=bank.parse_yuan(str(form.get("amount") or ""), "amount"),
            received_on=bank.parse_day(str(form.get("date") or ""), "date"),
            payer=str(form.get("payer") or "").strip()[:255],
            reference=str(form.get("reference") or "").strip()[:128],
        )
        done = await bank.record_transfers([t], actor=_actor(viewer))
    except IdnestError as exc:
        return await _payments_page(request, 400, describe_error(request, exc))
    flash(request, "Transfer matched." if done.matched else "Transfer recorded, not matched.")
    return redirect("/staff/finance/payments")


@post(
    "/staff/finance/transfers/import",
    include_in_schema=False,
    request_max_body_size=bank.MAX_STATEMENT_BYTES + 64 * 1024,
)
async def import_statement(request: Request[Any, Any, Any]) -> Response[Any]:
    viewer = await require_staff(request, *FINANCE)
    upload = (await request.form()).get("file")
    if not isinstance(upload, UploadFile):
        return await _payments_page(request, 400, "Choose a CSV file.")
    data = await upload.read(bank.MAX_STATEMENT_BYTES + 1)
    try:
        done = await bank.import_statement(data, actor=_actor(viewer))
    except IdnestError as exc:
        return await _payments_page(request, 400, describe_error(request, exc))
    flash(request, f"Statement imported: {done.recorded} recorded, {done.matched} matched.")
    return redirect("/staff/finance/payments")


@post(
    "/staff/finance/transfers/{transfer_id:int}/match",
    include_in_schema=False,
    request_max_body_size=MAX_FORM,
)
async def match_transfer(request: Request[Any, Any, Any], transfer_id: DbId) -> Response[Any]:
    viewer = await require_staff(request, *FINANCE)
    number = str((await request.form()).get("invoice") or "")[:64]
    try:
        await bank.match_by_hand(transfer_id, number, actor=_actor(viewer))
    except IdnestError as exc:
        return await _payments_page(request, 400, describe_error(request, exc))
    flash(request, "Transfer matched.")
    return redirect("/staff/finance/payments")


@get("/staff/finance/reconciliation", include_in_schema=False)
async def finance_reconciliation(request: Request[Any, Any, Any]) -> Response[str]:
    await require_staff(request, *FINANCE)
    month = _month(request, default=False)
    rec = await reconcile.reconcile(month, get_settings())
    return await page(
        request,
        "staff/finance.html",
        view="reconciliation",
        rec=rec,
        month=month or "",
        yuan=format_yuan,
    )


@get("/staff/finance/export", include_in_schema=False)
async def finance_export(request: Request[Any, Any, Any]) -> Response[bytes]:
    await require_staff(request, *FINANCE)
    kind = request.query_params.get("kind", "")
    fmt = request.query_params.get("format", "csv")
    month = exports.check_month(request.query_params.get("month", "")[:7])
    data = await exports.export(kind, fmt, month, get_settings())
    media = (
        "text/csv; charset=utf-8"
        if fmt == "csv"
        else ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    )
    name = f"idnest-{kind}-{month or 'all'}.{fmt}"
    return Response(
        data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@get("/console/{prefix:str}/fapiao", include_in_schema=False)
async def fapiao_page(request: Request[Any, Any, Any], prefix: str) -> Response[str]:
    _v, m = await require_member(request, prefix)
    d = await fapiao.details(m.tenant_id)
    return await page(request, "console/fapiao.html", m=m, d=d, flash=pop_flash(request))


async def _fapiao_page(request: Request[Any, Any, Any], m: Any, status: int, error: str) -> Any:
    d = await fapiao.details(m.tenant_id)
    return await page(request, "console/fapiao.html", m=m, d=d, status=status, error=error)


@post("/console/{prefix:str}/fapiao", include_in_schema=False, request_max_body_size=MAX_FORM)
async def fapiao_save(request: Request[Any, Any, Any], prefix: str) -> Response[Any]:
    viewer, m = await require_member(request, prefix)
    if not m.can_manage:
        return await _fapiao_page(
            request, m, 403, "Only owners and admins change invoicing details."
        )
    form = await request.form()
    try:
        await fapiao.save(m.tenant_id, dict(form), actor=f"user:{viewer.id}")
    except IdnestError as exc:
        return await _fapiao_page(request, m, 400, describe_error(request, exc))
    flash(request, "Invoicing details saved.")
    return redirect(f"/console/{m.prefix}/fapiao")


ROUTES = [
    finance_invoices,
    finance_usage,
    finance_ageing,
    finance_payments,
    record_transfer,
    import_statement,
    match_transfer,
    finance_reconciliation,
    finance_export,
    fapiao_page,
    fapiao_save,
]
