"""Audit log pages: a tenant's own entries in its console, every entry for staff; both
with filters (action, actor, date range), keyset paging and a bounded CSV export
(core/audit_query.py). The chain itself is checked by `idnest audit verify`."""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get
from litestar.params import FromPath

from core import audit_query
from core.errors import IdnestError
from core.limits import MAX_DB_ID, bounded_int
from portal.web.common import page, require_member, require_staff


def _filters(request: Request[Any, Any, Any]) -> tuple[audit_query.AuditFilter, str]:
    try:
        return audit_query.AuditFilter.parse(request.query_params), ""
    except IdnestError as exc:
        return audit_query.AuditFilter(), exc.detail


async def _page(request: Request[Any, Any, Any], tenant_id: int | None, template: str,
                base: str, **ctx: Any) -> Response[str]:  # fmt: skip
    f, error = _filters(request)
    raw = request.query_params.get("before")
    before = bounded_int(raw, field="before", low=1, high=MAX_DB_ID) if raw else None
    rows = await audit_query.entries(tenant_id, f, before=before, limit=audit_query.PAGE + 1)
    more = len(rows) > audit_query.PAGE
    rows = rows[: audit_query.PAGE]
    query = f.query()
    older = f"{base}?{urlencode({**query, 'before': rows[-1]['id']})}" if more and rows else ""
    return await page(request, template, rows=rows, f=f, error=error, older=older,
                      csv_link=f"{base}.csv?{urlencode(query)}", base=base, **ctx)  # fmt: skip


async def _csv(
    tenant_id: int | None, request: Request[Any, Any, Any], name: str
) -> Response[bytes]:
    f, _error = _filters(request)
    rows = await audit_query.entries(tenant_id, f, limit=audit_query.MAX_CSV_ROWS)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(audit_query.CSV_HEADER)
    writer.writerows(audit_query.csv_row(r) for r in rows)
    return Response(
        ("\ufeff" + buf.getvalue()).encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@get("/console/{prefix:str}/audit", include_in_schema=False)
async def console_audit(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[str]:
    _v, m = await require_member(request, prefix)
    return await _page(request, m.tenant_id, "console/audit.html", f"/console/{m.prefix}/audit",
                       m=m)  # fmt: skip


@get("/console/{prefix:str}/audit.csv", include_in_schema=False)
async def console_audit_csv(
    request: Request[Any, Any, Any], prefix: FromPath[str]
) -> Response[bytes]:
    _v, m = await require_member(request, prefix)
    return await _csv(m.tenant_id, request, f"audit-{m.prefix}.csv")


@get("/staff/audit", include_in_schema=False)
async def staff_audit(request: Request[Any, Any, Any]) -> Response[str]:
    await require_staff(request)
    return await _page(request, audit_query.STAFF, "staff/audit.html", "/staff/audit")


@get("/staff/audit.csv", include_in_schema=False)
async def staff_audit_csv(request: Request[Any, Any, Any]) -> Response[bytes]:
    await require_staff(request)
    return await _csv(audit_query.STAFF, request, "audit-node.csv")


ROUTES = [console_audit, console_audit_csv, staff_audit, staff_audit_csv]
