"""The staff console: review queue, tenants, node profile, TOTP set-up (staff users:
``staff_users.py``).

Each page names the staff roles that need it (admin passes everywhere); anyone else
gets a 404, so the console's shape is not advertised.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import segno
from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from core import usage as core_usage
from core.errors import IdnestError
from core.limits import MAX_PAGE, DbId, bounded_int
from core.settings import get_settings
from core.tables import AuditLog
from core.tenancy import cross_tenant
from portal.web import search_staff
from portal.web.common import (
    bind_cookie,
    flash,
    gettext_for,
    page,
    pending_uid,
    pop_flash,
    redirect,
    require_staff,
    session,
    start_session,
)
from resolver import usage
from tenants.accounts.services.apikeys import list_keys
from tenants.accounts.services.tenants import find_by_prefix, set_status
from tenants.accounts.tables import Tenant
from tenants.identifiers.tables import Identifier
from tenants.onboarding.services import applications, people, review
from tenants.onboarding.tables import APPLICATION_STATES, Application

REVIEW = ("reviewer",)
TENANTS_READ = ("operator", "finance", "reviewer")
TENANTS_WRITE = ("operator",)
PAGE = 50

log = logging.getLogger("idnest.staff")


def _details(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Audit details arrive as text on SQLite and as dicts from PostgreSQL."""
    for r in rows:
        if isinstance(r.get("detail"), str):
            try:
                r["detail"] = json.loads(r["detail"] or "{}")
            except ValueError:
                r["detail"] = {}
    return rows


def _actor(viewer: Any) -> str:
    return f"staff:{viewer.id}"


@get("/staff", include_in_schema=False)
async def staff_home(request: Request[Any, Any, Any]) -> Response[str]:
    viewer = await require_staff(request)
    counts = {
        s: await Application.count().where(Application.status == s).run()
        for s in APPLICATION_STATES
    }
    return await page(
        request,
        "staff/home.html",
        counts=counts,
        flash=pop_flash(request),
        tenants=await Tenant.count().run(),
        roles=sorted(viewer.staff_roles),
        **await _operations(viewer),
    )


async def _operations(viewer: Any) -> dict[str, Any]:
    """The operations dashboard, on the home page of those who run the node."""
    from portal.web.operations import charts
    from resolver.observability.dashboard import dashboard

    if not viewer.staff_roles & {"operator", "admin"}:
        return {}
    ops = await dashboard()
    return {"ops": ops, "charts": charts(ops["hourly"])}


@get("/staff/totp", include_in_schema=False)
async def totp_setup(request: Request[Any, Any, Any]) -> Response[Any]:
    uid = pending_uid(request)
    if not uid:
        return redirect("/login")
    user = await people.get_user(uid)
    if user is None or not user["is_staff"]:
        raise NotFoundException()
    secret, enabled = await people.totp_state(user["id"])
    if enabled:
        return redirect("/login/totp" if session(request).get("pending_totp") else "/staff")
    return await _enrolment(request, user["email"], secret)


async def _enrolment(
    request: Request[Any, Any, Any], email: str, secret: str, *, error: str = ""
) -> Response[Any]:
    """The enrolment page: the key as a QR code for the authenticator app, and as text."""
    uri = pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=get_settings().node_name)
    # segno draws the QR code as SVG, shown from a data: URI (the CSP allows img-src
    # data:): no image library, no request to another host.
    qr = segno.make(uri, error="m").svg_data_uri(scale=5)
    return await page(
        request,
        "totp.html",
        status=400 if error else 200,
        secret=secret,
        uri=uri,
        qr=qr,
        error=error,
    )


@post("/staff/totp", include_in_schema=False)
async def totp_enable(request: Request[Any, Any, Any]) -> Response[Any]:
    uid = pending_uid(request)
    if not uid:
        return redirect("/login")
    user = await people.get_user(uid)
    if user is None or not user["is_staff"]:
        raise NotFoundException()
    code = str((await request.form()).get("code") or "")
    if not await people.totp_enable(user["id"], code):
        secret, _en = await people.totp_state(user["id"])
        _ = gettext_for(request)
        return await _enrolment(request, user["email"], secret, error=_("The code is wrong."))
    await start_session(request, {"uid": user["id"], "totp_ok": True})
    return bind_cookie(request, redirect("/staff"))


@get("/staff/applications", include_in_schema=False)
async def queue(request: Request[Any, Any, Any]) -> Response[str]:
    await require_staff(request, *REVIEW)
    status = request.query_params.get("status", "")
    status = status if status in APPLICATION_STATES else ""
    q = request.query_params.get("q", "").strip()[:64]
    rows = await applications.list_applications(status=status, q=q)
    return await page(
        request, "staff/queue.html", rows=rows, selected=status, q=q, states=APPLICATION_STATES
    )


async def _app_or_404(app_id: DbId) -> dict[str, Any]:
    try:
        return await applications.get_application(app_id)
    except IdnestError:
        raise NotFoundException() from None


@get("/staff/applications/{app_id:int}", include_in_schema=False)
async def review_page(request: Request[Any, Any, Any], app_id: DbId) -> Response[str]:
    await require_staff(request, *REVIEW)
    app = await _app_or_404(app_id)
    async with cross_tenant("staff"):
        trail = await (
            AuditLog.select()
            .where(AuditLog.action.like("application.%") & (AuditLog.target == app["credit_code"]))
            .order_by(AuditLog.id)
            .run()
        )
    upload = await applications.licence(app_id)
    trail = _details(trail)
    return await page(
        request,
        "staff/review.html",
        app=app,
        trail=trail,
        checks=await applications.automatic_checks(app),
        flash=pop_flash(request),
        licence=upload and {k: upload[k] for k in ("filename", "content_type", "size")},
        error="",
    )


@get("/staff/applications/{app_id:int}/licence", include_in_schema=False)
async def licence_file(request: Request[Any, Any, Any], app_id: DbId) -> Response[bytes]:
    await require_staff(request, *REVIEW)
    await _app_or_404(app_id)
    upload = await applications.licence(app_id)
    if upload is None:
        raise NotFoundException()
    return Response(
        bytes(upload["data"]),
        media_type=upload["content_type"],
        headers={
            "Content-Disposition": "inline; filename=licence",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


@post("/staff/applications/{app_id:int}/{action:str}", include_in_schema=False)
async def decide(
    request: Request[Any, Any, Any], app_id: DbId, action: FromPath[str]
) -> Response[Any]:
    viewer = await require_staff(request, *REVIEW)
    await _app_or_404(app_id)
    reason = str((await request.form()).get("reason") or "")
    _ = gettext_for(request)
    try:
        if action == "review":
            await review.start_review(app_id, actor=_actor(viewer))
        elif action == "approve":
            prefix = await review.approve(app_id, actor=_actor(viewer))
            flash(request, f"approved:{prefix}")
        elif action == "reject":
            await review.reject(app_id, actor=_actor(viewer), reason=reason)
        else:
            raise NotFoundException()
    except IdnestError as exc:
        msg = _("A rejection needs a reason.") if exc.field == "reason" else exc.detail
        return await _refused(request, app_id, msg, 400)
    except Exception:
        if action != "approve":
            raise
        # The approval is one transaction, so it was rolled back: say so rather than
        # leave the reviewer with a bare 500 and no idea whether a prefix went out.
        log.exception("approving application %s failed", app_id)
        msg = _("The approval failed and was undone; no prefix was allocated. Try again.")
        return await _refused(request, app_id, msg, 503)
    return redirect(f"/staff/applications/{app_id}")


async def _refused(
    request: Request[Any, Any, Any], app_id: int, msg: str, status: int
) -> Response[str]:
    app = await _app_or_404(app_id)
    return await page(
        request,
        "staff/review.html",
        status=status,
        app=app,
        trail=[],
        checks=await applications.automatic_checks(app),
        licence=None,
        error=msg,
        flash="",
    )


@get("/staff/tenants", include_in_schema=False)
async def tenants(request: Request[Any, Any, Any]) -> Response[str]:
    await require_staff(request, *TENANTS_READ)
    q = request.query_params.get("q", "").strip()[:64]
    pageno = bounded_int(
        request.query_params.get("page"), field="page", low=0, high=MAX_PAGE, default=0
    )
    query = Tenant.select().order_by(Tenant.id)
    if q:
        query = query.where(Tenant.name.ilike(f"%{q}%") | Tenant.prefix.ilike(f"%{q}%"))
    rows = await query.offset(pageno * PAGE).limit(PAGE + 1).run()
    return await page(
        request, "staff/tenants.html", rows=rows[:PAGE], q=q, pageno=pageno, more=len(rows) > PAGE
    )


@get("/staff/tenants/{prefix:str}", include_in_schema=False)
async def tenant_page(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[str]:
    viewer = await require_staff(request, *TENANTS_READ)
    tenant = await find_by_prefix(prefix)
    if tenant is None:
        raise NotFoundException()
    since = core_usage.shanghai_day(core_usage.now()) - timedelta(days=29)  # Asia/Shanghai days
    async with cross_tenant("staff"):
        trail = (
            await AuditLog.select()
            .where((AuditLog.tenant_id == tenant.id) & AuditLog.action.like("tenant.%"))
            .order_by(AuditLog.id, ascending=False)
            .limit(20)
            .run()
        )
        n_identifiers = await Identifier.count().where(Identifier.tenant_id == tenant.id).run()
    return await page(
        request,
        "staff/tenant.html",
        tenant=tenant,
        trail=_details(trail),
        flash=pop_flash(request),
        identifiers=n_identifiers,
        resolutions=await usage.resolutions_since(tenant.id, since),
        keys=await list_keys(tenant.id),
        members=await people.list_members(tenant.id),
        can_write=bool(viewer.staff_roles & {"admin", "operator"}),
        can_search=search_staff.can_search(viewer),
        searches=await search_staff.recent(tenant.id) if search_staff.can_search(viewer) else [],
        error="",
    )


@post("/staff/tenants/{prefix:str}/status", include_in_schema=False)
async def tenant_status(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[Any]:
    viewer = await require_staff(request, *TENANTS_WRITE)
    tenant = await find_by_prefix(prefix)
    if tenant is None:
        raise NotFoundException()
    form = await request.form()
    status = str(form.get("status") or "")
    reason = str(form.get("reason") or "").strip()
    if status not in ("active", "suspended", "closed") or not reason:
        flash(request, "A status change needs a reason.")
        return redirect(f"/staff/tenants/{tenant.prefix}")
    await set_status(tenant.prefix, status, actor=_actor(viewer), reason=reason)
    flash(request, "The tenant's status has been changed.")
    return redirect(f"/staff/tenants/{tenant.prefix}")


@get("/staff/node", include_in_schema=False)
async def node_profile(request: Request[Any, Any, Any]) -> Response[str]:
    await require_staff(request)
    s = get_settings()
    return await page(
        request,
        "staff/node.html",
        node={
            "name": s.node_name,
            "prefix": s.node_prefix,
            "base_url": s.public_base_url or "-",
            "profile": "embedded" if s.embedded else "single-node",
            "mail": s.smtp_host or "./var/mail/",
            "sso": s.oidc_issuer or "-",
            "now": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )


ROUTES = [
    staff_home,
    totp_setup,
    totp_enable,
    queue,
    review_page,
    licence_file,
    decide,
    tenants,
    tenant_page,
    tenant_status,
    node_profile,
]
