"""Statistics pages: by enterprise and by industry for staff, a tenant's own in its
console; each with per-day charts and a CSV export (tenants.statistics)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath

from core.limits import bounded_int
from core.usage import SHANGHAI
from portal.web.chart import bar_chart
from portal.web.common import gettext_for, page, require_member, require_staff
from tenants.statistics.services import stats

FIGURES = ("registrations", "queries", "successes")


def _range(request: Request[Any, Any, Any]) -> tuple[int, date, date]:
    days = bounded_int(request.query_params.get("days"), field="days", low=1, high=stats.MAX_DAYS,
                       default=30)  # fmt: skip
    today = datetime.now(UTC).astimezone(SHANGHAI).date()
    return days, today - timedelta(days=days - 1), today


def _charts(request: Request[Any, Any, Any], rows: list[Any], today: date, days: int) -> list[Any]:
    _ = gettext_for(request)
    titles = {"registrations": _("Registrations per day"), "queries": _("Resolutions per day"),
              "successes": _("Successful answers per day")}  # fmt: skip
    out = []
    for figure in FIGURES:
        counts: dict[date, int] = {}
        for r in rows:
            counts[r.day] = counts.get(r.day, 0) + getattr(r, figure)
        out.append(bar_chart(counts, today=today, days=min(days, 90), title=titles[figure]))
    return out


def _csv(name: str, header: list[str], rows: list[list[Any]]) -> Response[bytes]:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    return Response(
        ("\ufeff" + buf.getvalue()).encode(),  # a BOM, so spreadsheet programs read UTF-8
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _by(request: Request[Any, Any, Any]) -> str:
    return "industry" if request.query_params.get("by") == "industry" else "enterprise"


@get("/staff/statistics", include_in_schema=False)
async def staff_statistics(request: Request[Any, Any, Any]) -> Response[str]:
    await require_staff(request)
    days, first, today = _range(request)
    rows = await stats.by_enterprise(first, today)
    return await page(
        request, "staff/statistics.html", days=days, by=_by(request), rows=rows,
        industries=stats.by_industry(rows), charts=_charts(request, rows, today, days),
    )  # fmt: skip


@get("/staff/statistics.csv", include_in_schema=False)
async def staff_statistics_csv(request: Request[Any, Any, Any]) -> Response[bytes]:
    await require_staff(request)
    _days, first, today = _range(request)
    rows = await stats.by_enterprise(first, today)
    if _by(request) == "industry":
        return _csv(
            f"statistics-industry-{first}-{today}.csv",
            ["day", "industry", "industry_name", *FIGURES],
            [[i.day.isoformat(), i.industry, i.industry_name, i.registrations, i.queries,
              i.successes] for i in stats.by_industry(rows)],
        )  # fmt: skip
    return _csv(
        f"statistics-enterprise-{first}-{today}.csv",
        ["day", "prefix", "name", "industry", *FIGURES],
        [[r.day.isoformat(), r.prefix, r.name, r.industry, r.registrations, r.queries,
          r.successes] for r in rows],
    )  # fmt: skip


@get("/console/{prefix:str}/statistics", include_in_schema=False)
async def console_statistics(
    request: Request[Any, Any, Any], prefix: FromPath[str]
) -> Response[str]:
    _v, m = await require_member(request, prefix)
    days, first, today = _range(request)
    rows = await stats.for_tenant(m.tenant_id, first, today)
    return await page(
        request, "console/statistics.html", m=m, days=days, rows=list(reversed(rows)),
        charts=_charts(request, rows, today, days),
    )  # fmt: skip


@get("/console/{prefix:str}/statistics.csv", include_in_schema=False)
async def console_statistics_csv(
    request: Request[Any, Any, Any], prefix: FromPath[str]
) -> Response[bytes]:
    _v, m = await require_member(request, prefix)
    _days, first, today = _range(request)
    rows = await stats.for_tenant(m.tenant_id, first, today)
    return _csv(
        f"statistics-{m.prefix}-{first}-{today}.csv",
        ["day", *FIGURES],
        [[r.day.isoformat(), r.registrations, r.queries, r.successes] for r in rows],
    )


ROUTES = [staff_statistics, staff_statistics_csv, console_statistics, console_statistics_csv]
