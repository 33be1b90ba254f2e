"""Staff console: the node's metadata templates (core and industry 标识模板).

Every staff role reads them; admins and operators write new versions (reviewers and
finance get 403 on the editor, in the page and in the POST). Every write is
``templates.save_template``, the function behind the CLI and the top-level sync, which
also writes the audit row. A version never changes once written, so the editor always
writes the next one, and says so when someone else wrote one first.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath

from core.errors import IdnestError, InvalidValue
from portal.web import template_forms as tf
from portal.web.common import (
    Viewer,
    describe_error,
    flash,
    page,
    pop_flash,
    redirect,
    require_staff,
)
from tenants.templates.services import templates

EDIT_ROLES = frozenset({"admin", "operator"})
HEADER_FIELDS = ("code", "name", "kind", "type", *tf.INDUSTRY_FIELDS)


def _can_edit(viewer: Viewer) -> bool:
    return bool(viewer.staff_roles & EDIT_ROLES)


async def _editor(request: Request[Any, Any, Any]) -> Viewer:
    viewer = await require_staff(request)
    if not _can_edit(viewer):
        raise PermissionDeniedException("reviewers and finance read templates only")
    return viewer


async def _history(code: str) -> list[templates.Template]:
    history = await templates.versions(None, code)
    if not history:
        raise NotFoundException()
    return history


@get("/staff/templates", include_in_schema=False)
async def staff_templates(request: Request[Any, Any, Any]) -> Response[str]:
    viewer = await require_staff(request)
    return await page(
        request,
        "staff/templates.html",
        rows=await templates.list_templates(None),
        can_edit=_can_edit(viewer),
        flash=pop_flash(request),
    )


@get("/staff/templates/{code:str}", include_in_schema=False)
async def staff_template(request: Request[Any, Any, Any], code: FromPath[str]) -> Response[str]:
    viewer = await require_staff(request)
    history = await _history(code)
    t, diff = tf.pick_version(history, request.query_params.get("v"))
    return await page(
        request,
        "staff/template.html",
        t=t,
        history=history,
        diff=diff,
        latest=history[-1],
        can_edit=_can_edit(viewer),
        flash=pop_flash(request),
    )


async def _editor_page(
    request: Request[Any, Any, Any],
    *,
    code: str,
    is_new: bool,
    header: dict[str, str],
    rows: list[dict[str, Any]],
    expect: int,
    status: int = 200,
    error: str = "",
    errors: dict[str, str] | None = None,
    row_errors: dict[int, str] | None = None,
) -> Response[str]:
    return await page(
        request,
        "staff/template_edit.html",
        status=status,
        code=code,
        is_new=is_new,
        header=header,
        rows=rows,
        expect=expect,
        error=error,
        errors=errors or {},
        row_errors=row_errors or {},
        action="/staff/templates/-/new" if is_new else f"/staff/templates/{code}/edit",
        **tf.CONTEXT,
    )


@get("/staff/templates/-/new", include_in_schema=False)
async def new_template(request: Request[Any, Any, Any]) -> Response[str]:
    await _editor(request)
    header = {"name": "", "kind": "industry", "type": "2"} | dict.fromkeys(tf.INDUSTRY_FIELDS, "")
    return await _editor_page(
        request, code="", is_new=True, header=header, rows=tf.with_blanks([], 3), expect=0
    )


@get("/staff/templates/{code:str}/edit", include_in_schema=False)
async def edit_template(request: Request[Any, Any, Any], code: FromPath[str]) -> Response[str]:
    await _editor(request)
    latest = (await _history(code))[-1]
    return await _editor_page(
        request,
        code=code,
        is_new=False,
        header=tf.header_from(latest),
        rows=tf.with_blanks([tf.item_row(i) for i in latest.items]),
        expect=latest.version,
    )


@post("/staff/templates/-/new", include_in_schema=False)
async def create_template(request: Request[Any, Any, Any]) -> Response[Any]:
    viewer = await _editor(request)
    form = await request.form()
    return await _save(request, viewer, form, str(form.get("code") or "").strip(), None)


@post("/staff/templates/{code:str}/edit", include_in_schema=False)
async def save_version(request: Request[Any, Any, Any], code: FromPath[str]) -> Response[Any]:
    viewer = await _editor(request)
    latest = (await _history(code))[-1]
    return await _save(request, viewer, await request.form(), code, latest)


async def _save(
    request: Request[Any, Any, Any],
    viewer: Viewer,
    form: Any,
    code: str,
    latest: templates.Template | None,
) -> Response[Any]:
    header = tf.header_of(form, node=True)
    rows = tf.read_rows(form)
    is_new = latest is None
    # The kind is chosen once; later versions keep it whatever the form says.
    kind = header["kind"] if latest is None else latest.kind
    expect = 0 if latest is None else tf.version_of(str(form.get("expect") or "")) or -1
    shown: dict[str, Any] = {"code": code, "is_new": is_new, "header": header, "expect": expect}
    if form.get("action") == "add_row":
        return await _editor_page(request, **shown, rows=[*rows, tf.blank_row()])
    items, row_errors = tf.items_of(rows)
    try:
        if kind not in tf.NODE_KINDS:
            raise InvalidValue(f"kind must be one of {', '.join(tf.NODE_KINDS)}", field="kind")
        saved = await templates.save_template(
            owner_tenant=None,
            code=code,
            body=tf.body_of(header, items, ""),
            actor=f"staff:{viewer.id}",
            kind=kind,
            expect_latest=expect,
        )
    except IdnestError as exc:
        return await _editor_page(
            request,
            **shown,
            rows=rows,
            **tf.refusal(exc, HEADER_FIELDS, describe_error(request, exc)),
            row_errors=row_errors,
        )
    flash(request, "A new version has been saved.")
    return redirect(f"/staff/templates/{saved.code}?v={saved.version}")


ROUTES = [
    staff_templates,
    new_template,
    edit_template,
    create_template,
    save_version,
    staff_template,
]
