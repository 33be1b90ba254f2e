"""Console: export all the tenant's data, and close the enterprise node.

A door onto tenants.ownership, as ``/api/exports`` is: the button queues an export job,
its page shows the progress and then the download (Range-capable, expiring). The owner
may ask to close the node: the final export is queued and offered here, and the erasure
follows the grace period unless cancelled (docs/ownership.md).
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromPath, QueryParameter

from core.settings import get_settings
from portal.web.common import page, redirect, require_member
from tenants.ownership import jobs
from tenants.ownership.api import serve_archive
from tenants.ownership.services import closure
from tenants.ownership.services import jobs as exports


def _owner(m: Any) -> None:
    if m.role != "owner":
        raise PermissionDeniedException("only the owner can close the enterprise node")


@get("/console/{prefix:str}/exports", include_in_schema=False)
async def exports_page(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[str]:
    _v, m = await require_member(request, prefix)
    return await page(
        request,
        "console/exports.html",
        m=m,
        exports=await exports.list_exports(m.tenant_id),
        closure=await closure.pending_closure(m.tenant_id),
        grace_days=get_settings().closure_grace_days,
    )


@post("/console/{prefix:str}/exports", include_in_schema=False)
async def start_export(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[Any]:
    _v, m = await require_member(request, prefix)  # every member may take the data out
    pk, info = await exports.create_export(m.tenant_id, actor=m.principal().actor)
    jobs.enqueue(pk)
    return redirect(f"/console/{m.prefix}/exports/{info.id}")


@get("/console/{prefix:str}/exports/{export_id:str}", include_in_schema=False)
async def export_job(
    request: Request[Any, Any, Any], prefix: FromPath[str], export_id: FromPath[str]
) -> Response[str]:
    _v, m = await require_member(request, prefix)
    info = await exports.get_export(m.tenant_id, export_id)  # another tenant's: NotFound
    return await page(
        request,
        "console/export_job.html",
        m=m,
        job=info,
        running=info.status in exports.UNFINISHED,
        download=info.download and info.download.replace("/api/", f"/console/{m.prefix}/", 1),
    )


@get("/console/{prefix:str}/exports/{export_id:str}/download", include_in_schema=False)
async def download(
    request: Request[Any, Any, Any],
    prefix: FromPath[str],
    export_id: FromPath[str],
    token: Annotated[str, QueryParameter(required=False, max_length=64)] = "",
) -> Any:
    _v, m = await require_member(request, prefix)
    path, filename = await exports.download_path(m.tenant_id, export_id, token)
    return await serve_archive(request, path, filename)


@post("/console/{prefix:str}/closure", include_in_schema=False)
async def request_closure(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[Any]:
    _v, m = await require_member(request, prefix)
    _owner(m)
    pk, _closure = await closure.request_closure(m.tenant_id, actor=m.principal().actor)
    jobs.enqueue(pk)
    return redirect(f"/console/{m.prefix}/exports")


@post("/console/{prefix:str}/closure/cancel", include_in_schema=False)
async def cancel_closure(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[Any]:
    _v, m = await require_member(request, prefix)
    _owner(m)
    await closure.cancel_closure(m.tenant_id, actor=m.principal().actor)
    return redirect(f"/console/{m.prefix}/exports")


ROUTES = [exports_page, start_export, export_job, download, request_closure, cancel_closure]
