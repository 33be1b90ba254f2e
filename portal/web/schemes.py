"""Identifier schemes in the consoles: namespaces and GS1 Digital Link links.

Tenant side: claim a GS1 company prefix, Ecode/VAA issuer code or OID sub-arc (staff
verify it), and manage the links of the tenant's GS1 keys and their item descriptions
(what each key is, shown in its linkset). Staff side: the queue of
claims to verify or reject. Every write goes through ``tenants.schemes.services``, the
same functions as ``/api/v1/...``, with the member's Principal.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath

from core.errors import IdnestError
from core.limits import DbId
from core.schemes.gs1_vocab import vocabulary
from portal.web.common import (
    describe_error,
    flash,
    gettext_for,
    page,
    pop_flash,
    redirect,
    require_member,
    require_staff,
)
from portal.web.console import console_base, refuse_readonly
from tenants.schemes.services import items, links, namespaces

SCHEMES = ("gs1", "ecode", "vaa", "oid")
LINK_FIELDS = ("key", "link_type", "href", "title", "language", "context", "media_type")


async def _console_page(
    request: Request[Any, Any, Any],
    m: Any,
    *,
    status: int = 200,
    error: str = "",
    form: dict[str, str] | None = None,
    item_form: dict[str, str] | None = None,
) -> Response[str]:
    _total, described = await items.list_items(m.principal(), page_size=items.MAX_PAGE_SIZE)
    return await page(
        request,
        "console/schemes.html",
        m=m,
        status=status,
        namespaces=await namespaces.list_namespaces(m.tenant_id),
        links=await links.list_links(m.principal()),
        schemes=SCHEMES,
        error=error,
        form=form or {},
        items=described,
        item_form=item_form or {},
        vocabulary_version=vocabulary().version,
        flash=pop_flash(request),
    )


@get("/console/{prefix:str}/schemes", include_in_schema=False)
async def schemes(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[str]:
    _v, m = await require_member(request, prefix)
    return await _console_page(request, m)


@post("/console/{prefix:str}/schemes/namespace", include_in_schema=False)
async def claim_namespace(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[Any]:
    _v, m = await require_member(request, prefix)
    if not m.can_manage:
        raise PermissionDeniedException("only owners and admins claim namespaces")
    form = await request.form()
    scheme = str(form.get("scheme") or "")
    if scheme not in SCHEMES:
        _ = gettext_for(request)
        return await _console_page(request, m, status=400, error=_("Choose a scheme."))
    try:
        await namespaces.request_namespace(
            m.tenant_id, scheme, str(form.get("value") or ""), actor=f"user:{m.user_id}"
        )
    except IdnestError as exc:
        return await _console_page(request, m, status=400, error=describe_error(request, exc))
    flash(request, "Your claim has been sent for review.")
    return redirect(f"{console_base(m)}/schemes")


@post("/console/{prefix:str}/schemes/link", include_in_schema=False)
async def add_link(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[Any]:
    _v, m = await require_member(request, prefix)
    refuse_readonly(m)
    form = await request.form()
    values = {f: str(form.get(f) or "").strip() for f in LINK_FIELDS}
    try:
        await links.add_link(
            m.principal(),
            values["key"],
            link_type=values["link_type"],
            href=values["href"],
            title=values["title"],
            language=values["language"],
            context=values["context"],
            media_type=values["media_type"],
            is_default=True if form.get("is_default") else None,
        )
    except IdnestError as exc:
        return await _console_page(
            request, m, status=400, error=describe_error(request, exc), form=values
        )
    flash(request, "The link has been saved.")
    return redirect(f"{console_base(m)}/schemes")


@post("/console/{prefix:str}/schemes/link/{link_id:int}/delete", include_in_schema=False)
async def delete_link(
    request: Request[Any, Any, Any], prefix: FromPath[str], link_id: DbId
) -> Response[Any]:
    _v, m = await require_member(request, prefix)
    refuse_readonly(m)
    try:
        await links.delete_link(m.principal(), link_id)
    except IdnestError:
        raise NotFoundException() from None
    flash(request, "The link has been deleted.")
    return redirect(f"{console_base(m)}/schemes")


@post("/console/{prefix:str}/schemes/item", include_in_schema=False)
async def describe_item(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[Any]:
    """Set a key path's description; an empty description removes it."""
    _v, m = await require_member(request, prefix)
    refuse_readonly(m)
    form = await request.form()
    values = {f: str(form.get(f) or "").strip() for f in ("item_key", "description")}
    try:
        if values["description"]:
            await items.set_item(m.principal(), values["item_key"], values["description"])
        else:
            await items.delete_item(m.principal(), values["item_key"])
    except IdnestError as exc:
        return await _console_page(
            request, m, status=400, error=describe_error(request, exc), item_form=values
        )
    if values["description"]:
        flash(request, "The description has been saved.")
    else:
        flash(request, "The description has been removed.")
    return redirect(f"{console_base(m)}/schemes")


@get("/staff/namespaces", include_in_schema=False)
async def staff_namespaces(request: Request[Any, Any, Any]) -> Response[str]:
    await require_staff(request, "reviewer")
    wanted = request.query_params.get("status") or "pending"
    try:
        claims = await namespaces.list_namespaces(status=wanted)
    except IdnestError:
        claims, wanted = await namespaces.list_namespaces(status="pending"), "pending"
    return await page(
        request, "staff/namespaces.html", claims=claims, wanted=wanted, flash=pop_flash(request)
    )


@post("/staff/namespaces/{scheme:str}/{action:str}", include_in_schema=False)
async def review_namespace(
    request: Request[Any, Any, Any], scheme: FromPath[str], action: FromPath[str]
) -> Response[Any]:
    viewer = await require_staff(request, "reviewer")
    if action not in ("verify", "reject") or scheme not in SCHEMES:
        raise NotFoundException()
    form = await request.form()
    try:
        await namespaces.review_namespace(
            scheme,
            str(form.get("value") or ""),
            verified=action == "verify",
            actor=f"staff:{viewer.id}",
            note=str(form.get("note") or ""),
        )
    except IdnestError:
        raise NotFoundException() from None
    if action == "verify":
        flash(request, "The claim has been verified.")
    else:
        flash(request, "The claim has been rejected.")
    return redirect("/staff/namespaces")


ROUTES = [
    schemes,
    claim_namespace,
    add_link,
    delete_link,
    describe_item,
    staff_namespaces,
    review_namespace,
]
