"""Self-deployed enterprise nodes in the consoles: the tenant enters its own servers (or
asks to be hosted again), staff review the request and see every enterprise's
availability (docs/enterprise.md)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath

from core.errors import IdnestError
from portal.web.common import flash, page, pop_flash, redirect, require_member, require_staff
from resolver.observability.enterprise import enterprise_availability
from tenants.enterprise.services.requests import decide, pending_all, pending_of, request_change
from tenants.enterprise.services.servers import encode_key, servers_of

MAX_FIELD = 4096  # servers and a PEM key both fit; anything longer is not either


async def _console(request: Request[Any, Any, Any], m: Any, status: int = 200,
                   **ctx: Any) -> Response[str]:  # fmt: skip
    return await page(
        request, "console/servers.html", status=status, m=m,
        servers=await servers_of(m.tenant_id), pending=await pending_of(m.tenant_id),
        availability=await enterprise_availability(m.prefix), **ctx,
    )  # fmt: skip


@get("/console/{prefix:str}/servers", include_in_schema=False)
async def servers_page(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[str]:
    _v, m = await require_member(request, prefix)
    return await _console(request, m, flash=pop_flash(request), values={})


@post("/console/{prefix:str}/servers", include_in_schema=False)
async def servers_request(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[Any]:
    _v, m = await require_member(request, prefix)
    if not m.can_manage:
        raise PermissionDeniedException("only owners and admins change the deployment")
    form = await request.form()
    values = {k: str(form.get(k) or "")[:MAX_FIELD]
              for k in ("mode", "servers", "protocols", "http_port", "public_key")}  # fmt: skip
    try:
        key = encode_key(values["public_key"].encode()) if values["public_key"].strip() else ""
        port = int(values["http_port"]) if values["http_port"].strip().isdigit() else 0
        await request_change(
            m.tenant_id, delegated=values["mode"] == "delegated", servers=values["servers"],
            protocols=values["protocols"] or "udp,tcp", http_port=port, public_key=key,
            actor=f"user:{m.user_id}",
        )  # fmt: skip
    except IdnestError as exc:
        return await _console(request, m, status=400, flash="", values=values,
                              error=exc.detail)  # fmt: skip
    flash(request, "Saved.")
    return redirect(f"/console/{m.prefix}/servers")


@get("/staff/enterprise", include_in_schema=False)
async def staff_enterprise(request: Request[Any, Any, Any]) -> Response[str]:
    await require_staff(request, "reviewer", "operator")
    return await page(request, "staff/enterprise.html", requests=await pending_all(),
                      availability=await enterprise_availability(),
                      flash=pop_flash(request))  # fmt: skip


@post("/staff/enterprise/{prefix:str}/{decision:str}", include_in_schema=False)
async def staff_decide(
    request: Request[Any, Any, Any], prefix: FromPath[str], decision: FromPath[str]
) -> Response[Any]:
    viewer = await require_staff(request, "reviewer")
    if decision not in ("approve", "reject"):
        raise NotFoundException()
    reason = str((await request.form()).get("reason") or "")[:1024]
    try:
        await decide(prefix.lower(), accept=decision == "approve", actor=f"staff:{viewer.id}",
                     reason=reason)  # fmt: skip
        flash(request, "Saved.")
    except IdnestError:
        flash(request, "Nothing here.")
    return redirect("/staff/enterprise")


ROUTES = [servers_page, servers_request, staff_enterprise, staff_decide]
