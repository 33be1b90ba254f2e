"""Staff operations pages: the dashboard, resolution-log search, maintenance windows and
the monthly report (HTML, PDF, CSV). Readable by operators (and admins)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Request, Response, get, post

from core.errors import InvalidValue
from core.limits import bounded_int
from core.settings import get_settings
from core.tenancy import cross_tenant
from portal.web.chart import hourly_chart
from portal.web.common import flash, page, redirect, require_staff
from resolver.observability import report as monthly
from resolver.observability.dashboard import dashboard
from resolver.observability.search import MAX_PAGE, search_log
from resolver.observability.tables import MaintenanceWindow

OPERATIONS = ("operator",)


def charts(hourly: dict[str, dict[str, list[float]]]) -> list[dict[str, Any]]:
    return [
        {"door": door, "qps": hourly_chart(s["qps"], title=f"{door} QPS, 24 h", unit="/s"),
         "ms": hourly_chart(s["ms"], title=f"{door} latency, 24 h", unit="ms")}
        for door, s in sorted(hourly.items())
    ]  # fmt: skip


@get("/staff/operations", include_in_schema=False)
async def operations(request: Request[Any, Any, Any]) -> Response[str]:
    await require_staff(request, *OPERATIONS)
    ops = await dashboard()
    return await page(request, "staff/operations.html", ops=ops, charts=charts(ops["hourly"]))


@get("/staff/resolution-logs", include_in_schema=False)
async def resolution_logs(request: Request[Any, Any, Any]) -> Response[str]:
    await require_staff(request, *OPERATIONS)
    q = request.query_params
    identifier = str(q.get("identifier") or "")[:2048]
    source = str(q.get("source") or "")[:64]
    limit = bounded_int(q.get("limit"), field="limit", low=1, high=MAX_PAGE, default=50)
    before = _when(q.get("before"), "before") if q.get("before") else None
    rows = await search_log(identifier=identifier, source=source, before=before, limit=limit)
    if not identifier and not source:
        rows = []
    return await page(request, "staff/resolution_logs.html", rows=rows, identifier=identifier,
                      source=source, limit=limit)  # fmt: skip


def _when(raw: Any, name: str) -> datetime:
    try:
        at = datetime.fromisoformat(str(raw)[:40])
    except ValueError:
        raise InvalidValue(f"{name} must be a date and time (ISO 8601)", field=name) from None
    return at if at.tzinfo else at.replace(tzinfo=ZoneInfo("Asia/Shanghai"))


@get("/staff/maintenance", include_in_schema=False)
async def maintenance(request: Request[Any, Any, Any]) -> Response[str]:
    await require_staff(request, *OPERATIONS)
    async with cross_tenant("staff"):
        rows = await MaintenanceWindow.select().order_by(
            MaintenanceWindow.starts_at, ascending=False).limit(MAX_PAGE).run()  # fmt: skip
    return await page(request, "staff/maintenance.html", rows=rows)


@post("/staff/maintenance", include_in_schema=False)
async def add_maintenance(request: Request[Any, Any, Any]) -> Response[Any]:
    viewer = await require_staff(request, *OPERATIONS)
    form = await request.form()
    starts, ends = _when(form.get("starts_at"), "starts_at"), _when(form.get("ends_at"), "ends_at")
    if ends <= starts or (ends - starts).days > 31:
        raise InvalidValue("a window ends after it starts, within 31 days", field="ends_at")
    row = MaintenanceWindow(starts_at=starts.astimezone(UTC), ends_at=ends.astimezone(UTC),
                            reason=str(form.get("reason") or "")[:255],
                            created_by=f"staff:{viewer.id}")  # fmt: skip
    async with cross_tenant("staff", write=True):
        await MaintenanceWindow.insert(row).run()
    flash(request, "Maintenance window recorded")
    return redirect("/staff/maintenance")


@get("/staff/reports/monthly", include_in_schema=False)
async def monthly_report(request: Request[Any, Any, Any]) -> Response[Any]:
    await require_staff(request, *OPERATIONS, "finance")
    default = datetime.now(monthly.SHANGHAI).strftime("%Y-%m")
    month = str(request.query_params.get("month") or default)[:7]
    fmt = str(request.query_params.get("format") or "html")
    try:
        monthly.month_bounds(month)
    except ValueError:
        raise InvalidValue("month must be YYYY-MM", field="month") from None
    if fmt not in ("html", "pdf", "csv"):
        raise InvalidValue("format must be html, pdf or csv", field="format")
    result = await monthly.build_report(month, get_settings().prober_interval or 60.0)
    name = f"idnest-report-{month}"
    if fmt == "pdf":
        return Response(monthly.as_pdf(result), media_type="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="{name}.pdf"'})  # fmt: skip
    if fmt == "csv":
        return Response(monthly.as_csv(result), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="{name}.csv"'})  # fmt: skip
    return await page(request, "staff/report.html", report=result, month=month)


ROUTES = [operations, resolution_logs, maintenance, add_maintenance, monthly_report]
