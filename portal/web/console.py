"""The tenant console: dashboard and identifiers (keys and members: team.py).

Every page starts with `require_member`, which finds the viewer's membership in the
tenant named by the URL or answers 404. Identifier writes go through the one write
path, `put_record`/`delete_record`, with the member's Principal, so a viewer (read
scope only) is refused there too, not only by hidden buttons.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath
from piccolo.columns.combination import WhereRaw

from core import usage as core_usage
from core.errors import IdnestError, InvalidValue
from core.identifiers import fold
from core.limits import bounded_int
from core.tables import AuditLog
from core.tenancy import tenant_transaction
from core.values import load_values, value_to_json
from portal.web.chart import bar_chart
from portal.web.common import (
    describe_error,
    flash,
    gettext_for,
    page,
    pop_flash,
    redirect,
    require_member,
)
from portal.web.lifecycle import identifier_extras
from resolver import usage
from tenants.identifiers.services.records import (
    MAX_VALUES_PER_RECORD,
    delete_record,
    put_record,
)
from tenants.identifiers.tables import Identifier

PAGE = 25
BLANK_ROWS = 3
MAX_FORM_ROWS = MAX_VALUES_PER_RECORD + BLANK_ROWS


def console_base(m: Any) -> str:
    return f"/console/{m.prefix}"


def refuse_readonly(m: Any) -> None:
    if not m.can_write:
        raise PermissionDeniedException("viewers cannot change anything")


@get("/console", include_in_schema=False)
async def console_home(request: Request[Any, Any, Any]) -> Response[Any]:
    from portal.web.common import require_user

    viewer = await require_user(request)
    if len(viewer.members) == 1:
        return redirect(console_base(viewer.members[0]))
    return await page(request, "console/choose.html", members=viewer.members)


@get("/console/{prefix:str}", include_in_schema=False)
async def dashboard(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[str]:
    _v, m = await require_member(request, prefix)
    today = core_usage.shanghai_day(core_usage.now())  # usage days are Asia/Shanghai days
    counts = await usage.resolutions_by_day(m.tenant_id, today - timedelta(days=29))
    _ = gettext_for(request)
    async with tenant_transaction(m.tenant_id, write=False):
        activity = (
            await AuditLog.select()
            .where(AuditLog.tenant_id == m.tenant_id)
            .order_by(AuditLog.id, ascending=False)
            .limit(10)
            .run()
        )
        n_identifiers = await Identifier.count().where(Identifier.tenant_id == m.tenant_id).run()
    return await page(
        request,
        "console/dashboard.html",
        m=m,
        flash=pop_flash(request),
        activity=activity,
        identifiers=n_identifiers,
        total=sum(counts.values()),
        chart=bar_chart(counts, today=today, title=_("Resolutions per day, last 30 days")),
    )


@get("/console/{prefix:str}/identifiers", include_in_schema=False)
async def identifiers(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[str]:
    _v, m = await require_member(request, prefix)
    q = request.query_params.get("q", "").strip()[:128]
    after = request.query_params.get("after", "")
    where: Any = Identifier.tenant_id == m.tenant_id
    if q:
        pattern = "%" + fold(q).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where = where & WhereRaw("handle_key LIKE {} ESCAPE '\\'", pattern)
    if after:
        where = where & (Identifier.handle_key > after)
    async with tenant_transaction(m.tenant_id, write=False):
        rows = (
            await Identifier.select(Identifier.handle, Identifier.handle_key, Identifier.updated_at)
            .where(where)
            .order_by(Identifier.handle_key)
            .limit(PAGE + 1)
            .run()
        )
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    return await page(
        request,
        "console/identifiers.html",
        m=m,
        rows=rows,
        q=q,
        after=after,
        next_after=rows[-1]["handle_key"] if more else "",
        flash=pop_flash(request),
    )


async def _load(m: Any, suffix: str) -> dict[str, Any]:
    key = fold(f"{m.prefix}/{suffix}")
    async with tenant_transaction(m.tenant_id, write=False):
        row = (
            await Identifier.select()
            .where((Identifier.tenant_id == m.tenant_id) & (Identifier.handle_key == key))
            .first()
            .run()
        )
    if row is None:
        raise NotFoundException()
    return row


def _rows(values: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Editable string values, and the rest (admin, binary) kept as they are."""
    editable, kept = [], []
    for v in values:
        if v.type != "HS_ADMIN" and v.data.format == "string":
            editable.append(
                {
                    "index": v.index,
                    "type": v.type,
                    "data": v.data.value,
                    "ttl": v.ttl,
                    "public": v.public_read,
                }
            )
        else:
            kept.append(value_to_json(v))
    return editable, kept


@get("/console/{prefix:str}/identifier", include_in_schema=False)
async def view_identifier(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[str]:
    _v, m = await require_member(request, prefix)
    row = await _load(m, request.query_params.get("h", ""))
    values = load_values(row["values"])
    return await page(
        request,
        "console/identifier.html",
        m=m,
        row=row,
        values=values,
        suffix=row["handle"].split("/", 1)[1],
        flash=pop_flash(request),
        **(await identifier_extras(request, m, row)),
    )


@get("/console/{prefix:str}/identifier/edit", include_in_schema=False)
async def edit_identifier(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[str]:
    _v, m = await require_member(request, prefix)
    refuse_readonly(m)
    suffix = request.query_params.get("h", "")
    rows: list[dict[str, Any]] = []
    if suffix:
        rows, _kept = _rows(load_values((await _load(m, suffix))["values"]))
    return await page(
        request,
        "console/identifier_edit.html",
        m=m,
        suffix=suffix,
        is_new=not suffix,
        rows=_with_blanks(rows),
        error="",
    )


def _with_blanks(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    top = max([r["index"] for r in rows] + [0])
    return rows + [
        {"index": "", "type": "", "data": "", "ttl": 86400, "public": True, "hint": top + i + 1}
        for i in range(BLANK_ROWS)
    ]


def _form_values(form: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The values in the form (rows with a type), and rows as typed (to show again)."""
    body, shown = [], []
    # The row count is the client's word: bounded (a record's values plus blanks) before
    # the loop, so a forged rows=10**8 is a 400, not 10**8 dictionaries.
    rows = bounded_int(form.get("rows"), field="rows", low=0, high=MAX_FORM_ROWS, default=0)
    for i in range(rows):
        index, vtype = (
            str(form.get(f"index_{i}") or "").strip(),
            str(form.get(f"type_{i}") or "").strip(),
        )
        data, ttl = str(form.get(f"data_{i}") or ""), str(form.get(f"ttl_{i}") or "86400").strip()
        public = form.get(f"public_{i}") == "1"
        shown.append({"index": index, "type": vtype, "data": data, "ttl": ttl, "public": public})
        if not vtype and not data:
            continue
        body.append(
            {
                "index": index,
                "type": vtype,
                "data": {"format": "string", "value": data},
                "ttl": ttl,
                "permissions": "1110" if public else "1100",
            }
        )
    return body, shown


def _coerce(body: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for v in body:
        for k in ("index", "ttl"):
            with contextlib.suppress(TypeError, ValueError):
                v[k] = int(v[k])
    return body


@post("/console/{prefix:str}/identifier/save", include_in_schema=False)
async def save_identifier(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[Any]:
    _v, m = await require_member(request, prefix)
    refuse_readonly(m)
    form = await request.form()
    suffix = str(form.get("suffix") or "").strip()
    is_new = form.get("is_new") == "1"
    body, shown = _form_values(form)
    kept: list[dict[str, Any]] = []
    _ = gettext_for(request)
    try:
        if not suffix:
            raise InvalidValue(_("Enter the identifier's suffix."), field="suffix")
        if not is_new:
            _ed, kept = _rows(load_values((await _load(m, suffix))["values"]))
        await put_record(
            m.principal(),
            f"{m.prefix}/{suffix}",
            {"values": kept + _coerce(body)},
            overwrite=not is_new,
        )
    except IdnestError as exc:
        return await page(
            request,
            "console/identifier_edit.html",
            status=400,
            m=m,
            suffix=suffix,
            is_new=is_new,
            rows=shown,
            error=describe_error(request, exc),
        )
    flash(request, "Saved.")
    return redirect(f"{console_base(m)}/identifier?h={suffix}")


@get("/console/{prefix:str}/identifier/delete", include_in_schema=False)
async def confirm_delete(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[str]:
    _v, m = await require_member(request, prefix)
    refuse_readonly(m)
    row = await _load(m, request.query_params.get("h", ""))
    return await page(
        request, "console/delete.html", m=m, row=row, suffix=row["handle"].split("/", 1)[1]
    )


@post("/console/{prefix:str}/identifier/delete", include_in_schema=False)
async def delete_identifier(
    request: Request[Any, Any, Any], prefix: FromPath[str]
) -> Response[Any]:
    _v, m = await require_member(request, prefix)
    refuse_readonly(m)
    suffix = str((await request.form()).get("suffix") or "")
    await _load(m, suffix)
    await delete_record(m.principal(), f"{m.prefix}/{suffix}")
    flash(request, "Deleted.")
    return redirect(f"{console_base(m)}/identifiers")


ROUTES = [
    console_home,
    dashboard,
    identifiers,
    view_identifier,
    edit_identifier,
    save_identifier,
    confirm_delete,
    delete_identifier,
]
