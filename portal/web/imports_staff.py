"""Staff console: import a tenant's archive into this node (the staff door onto
``idnest import``, tenants/ownership/services/imports.py).

The upload is stored and queued as a job; its page shows the progress and, when done,
links the tenant it made, or says why the archive was refused (nothing is written then).
Admins only: an import makes a tenant.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath

from core.errors import IdnestError
from portal.web.common import describe_error, page, redirect, require_staff
from tenants.ownership import jobs
from tenants.ownership.services import imports

_CHUNK = 1 << 20


async def _page(request: Request[Any, Any, Any], *, status: int = 200, error: str = "") -> Any:
    return await page(
        request,
        "staff/imports.html",
        jobs=await imports.list_imports(),
        upload_error=error,
        status=status,
    )


@get("/staff/imports", include_in_schema=False)
async def imports_page(request: Request[Any, Any, Any]) -> Response[str]:
    await require_staff(request, "admin")
    return await _page(request)


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(_CHUNK):
        yield chunk


@post(
    "/staff/imports",
    include_in_schema=False,
    request_max_body_size=imports.MAX_IMPORT_BYTES + (1 << 20),
)
async def upload_import(request: Request[Any, Any, Any]) -> Response[Any]:
    viewer = await require_staff(request, "admin")
    form = await request.form()
    upload = form.get("archive")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return await _page(request, status=400, error="Choose an archive (.tar.gz) to import.")
    try:
        pk, info = await imports.receive_archive(_chunks(upload), actor=f"staff:{viewer.id}")
    except IdnestError as exc:
        return await _page(request, status=400, error=describe_error(request, exc))
    jobs.enqueue_import(pk)
    return redirect(f"/staff/imports/{info.id}")


@get("/staff/imports/{import_id:str}", include_in_schema=False)
async def import_job(request: Request[Any, Any, Any], import_id: FromPath[str]) -> Response[str]:
    await require_staff(request, "admin")
    info = await imports.get_import(import_id[:40])
    return await page(
        request, "staff/import_job.html", job=info, running=info.status in imports.UNFINISHED
    )


ROUTES = [imports_page, upload_import, import_job]
