"""Tenant console: metadata templates (标识模板) a tenant can use, and its own.

A tenant sees the node's templates and its own, never another tenant's (those answer
404 like any other tenant's page). It extends a node template under a code of its own,
adding items at idIndex >= 2000, and writes next versions of its own templates; node
templates are only read here (staff edit them). Owners, admins and developers write,
viewers read. Writes go through ``templates.save_template`` with the tenant as owner,
the same call as ``POST /snms/api/v5/template``.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath

from core.errors import IdnestError
from portal.web import template_forms as tf
from portal.web.common import describe_error, flash, page, pop_flash, redirect, require_member
from portal.web.console import console_base, refuse_readonly
from tenants.onboarding.services.people import Member
from tenants.templates.services import templates
from tenants.templates.services.templates import Template

HEADER_FIELDS = ("code", "name")


async def _visible(m: Member, ref: str) -> Template:
    """The tenant's own template of that code, else the node's; anything else is 404."""
    try:
        return await templates.get_template(m.tenant_id, ref)
    except IdnestError:
        raise NotFoundException() from None


async def _own(m: Member, code: str) -> Template:
    """The latest version of one of the tenant's own templates; a node template is 403."""
    if "@" in code:
        raise NotFoundException()
    t = await _visible(m, code)
    if t.tenant_id != m.tenant_id:
        raise PermissionDeniedException("node templates are edited by node staff")
    return t


async def _base_of(m: Member, ref: str, editing: str = "") -> Template | None:
    """A base to extend: a node template, or another of the tenant's own."""
    if not ref:
        return None
    base = await _visible(m, ref)
    if base.tenant_id is not None and base.code == editing:
        raise NotFoundException()
    return base


@get("/console/{prefix:str}/templates", include_in_schema=False)
async def tenant_templates(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[str]:
    _v, m = await require_member(request, prefix)
    found = await templates.list_templates(m.tenant_id)
    return await page(
        request,
        "console/templates.html",
        m=m,
        node=[t for t in found if t.tenant_id is None],
        own=[t for t in found if t.tenant_id == m.tenant_id],
        flash=pop_flash(request),
    )


@get("/console/{prefix:str}/templates/{code:str}", include_in_schema=False)
async def tenant_template(
    request: Request[Any, Any, Any], prefix: FromPath[str], code: FromPath[str]
) -> Response[str]:
    _v, m = await require_member(request, prefix)
    latest = await _visible(m, code)
    history = await templates.versions(latest.tenant_id, latest.code)
    t, diff = tf.pick_version(history, request.query_params.get("v"))
    return await page(
        request,
        "console/template.html",
        m=m,
        t=t,
        history=history,
        diff=diff,
        latest=history[-1],
        is_own=latest.tenant_id == m.tenant_id,
        flash=pop_flash(request),
    )


async def _editor_page(
    request: Request[Any, Any, Any],
    m: Member,
    *,
    code: str,
    is_new: bool,
    header: dict[str, str],
    base: Template | None,
    rows: list[dict[str, Any]],
    expect: int,
    status: int = 200,
    error: str = "",
    errors: dict[str, str] | None = None,
    row_errors: dict[int, str] | None = None,
) -> Response[str]:
    node = await templates.list_templates(None)
    newer = next(
        (t for t in node if base and t.code == base.code and t.version > base.version), None
    )
    action = "templates/-/new" if is_new else f"templates/{code}/edit"
    return await page(
        request,
        "console/template_edit.html",
        status=status,
        m=m,
        code=code,
        is_new=is_new,
        header=header,
        base=base,
        bases=node,
        newer=newer,
        rows=rows,
        expect=expect,
        error=error,
        errors=errors or {},
        row_errors=row_errors or {},
        action=f"{console_base(m)}/{action}",
        **tf.CONTEXT,
    )


@get("/console/{prefix:str}/templates/-/new", include_in_schema=False)
async def new_template(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[str]:
    _v, m = await require_member(request, prefix)
    refuse_readonly(m)
    base = await _base_of(m, request.query_params.get("base", ""))
    return await _editor_page(
        request,
        m,
        code="",
        is_new=True,
        header={"name": ""},
        base=base,
        rows=tf.with_blanks([], 3),
        expect=0,
    )


@get("/console/{prefix:str}/templates/{code:str}/edit", include_in_schema=False)
async def edit_template(
    request: Request[Any, Any, Any], prefix: FromPath[str], code: FromPath[str]
) -> Response[str]:
    _v, m = await require_member(request, prefix)
    refuse_readonly(m)
    latest = await _own(m, code)
    current = await _base_of(m, latest.extends, code)
    # ?base= moves the template onto another base version (e.g. one staff wrote since).
    base = await _base_of(m, request.query_params.get("base", ""), code) or current
    return await _editor_page(
        request,
        m,
        code=latest.code,
        is_new=False,
        header={"name": latest.name},
        base=base,
        rows=tf.with_blanks([tf.item_row(i) for i in tf.own_items(latest, current)]),
        expect=latest.version,
    )


@post("/console/{prefix:str}/templates/-/new", include_in_schema=False)
async def create_template(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[Any]:
    _v, m = await require_member(request, prefix)
    refuse_readonly(m)
    form = await request.form()
    return await _save(request, m, form, str(form.get("code") or "").strip(), None)


@post("/console/{prefix:str}/templates/{code:str}/edit", include_in_schema=False)
async def save_version(
    request: Request[Any, Any, Any], prefix: FromPath[str], code: FromPath[str]
) -> Response[Any]:
    _v, m = await require_member(request, prefix)
    refuse_readonly(m)
    latest = await _own(m, code)
    return await _save(request, m, await request.form(), latest.code, latest)


async def _save(
    request: Request[Any, Any, Any], m: Member, form: Any, code: str, latest: Template | None
) -> Response[Any]:
    # A base the tenant cannot see (another tenant's template) is 404 before anything else.
    base = await _base_of(m, str(form.get("base") or "").strip(), code if latest else "")
    header = tf.header_of(form, node=False)
    rows = tf.read_rows(form)
    expect = 0 if latest is None else tf.version_of(str(form.get("expect") or "")) or -1
    shown: dict[str, Any] = {
        "code": code,
        "is_new": latest is None,
        "header": header,
        "base": base,
        "expect": expect,
    }
    if form.get("action") == "add_row":
        return await _editor_page(request, m, **shown, rows=[*rows, tf.blank_row()])
    items, row_errors = tf.items_of(rows)
    try:
        saved = await templates.save_template(
            owner_tenant=m.tenant_id,
            code=code,
            body=tf.body_of(header, items, base.ref if base else ""),
            actor=f"user:{m.user_id}",
            expect_latest=expect,
        )
    except IdnestError as exc:
        return await _editor_page(
            request,
            m,
            **shown,
            rows=rows,
            **tf.refusal(exc, HEADER_FIELDS, describe_error(request, exc)),
            row_errors=row_errors,
        )
    flash(request, "A new version has been saved.")
    return redirect(f"{console_base(m)}/templates/{saved.code}?v={saved.version}")


ROUTES = [
    tenant_templates,
    new_template,
    edit_template,
    create_template,
    save_version,
    tenant_template,
]
