"""Tenant exports over HTTP: start one, watch it, download it (with HTTP Range).

``POST /api/exports`` (a tenant's key) answers 202 with the job; ``GET
/api/exports/{id}`` its status, progress and, when done, the ``download`` link, which
needs the same tenant's credentials and the link's token, and expires. A download
broken midway resumes with ``Range: bytes=N-``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import anyio
import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, QueryParameter
from litestar.response import Stream

from core.auth import Principal
from core.errors import InsufficientPermissions
from core.http import problem
from core.openapi import ok
from tenants.ownership import jobs
from tenants.ownership.schemas import ExportList, ExportOut, Progress
from tenants.ownership.services import jobs as exports

_json = msgspec.json.Encoder()
# At most 19 digits (a 64-bit offset): a longer number is no range we serve, and int()
# of thousands of digits raises.
_RANGE = re.compile(r"^bytes=(\d{0,19})-(\d{0,19})$")
CHUNK = 256 * 1024


def _ok(body: ExportOut | ExportList, status: int = 200) -> Response[bytes]:
    return Response(content=_json.encode(body), status_code=status, media_type="application/json")


def _out(info: exports.ExportInfo) -> ExportOut:
    progress = Progress(info.rows_done, info.rows_total or 0, info.percent)
    return ExportOut(info.id, info.status, progress, info.size, info.error or None,
                     info.created_at, info.expires_at, info.download)  # fmt: skip


def _owner_only(caller: Principal) -> int:
    """The caller's tenant, when the credential may read its data."""
    if caller.tenant_id is None or not caller.can("read"):
        raise InsufficientPermissions("exporting needs a tenant's credential that may read")
    return caller.tenant_id


@post(
    "/api/exports",
    tags=["Exports"],
    summary="Start an export of all the tenant's data",
    responses=ok(ExportOut, 202),
)
async def start_export(caller: NamedDependency[Principal]) -> Response[bytes]:
    tenant_id = _owner_only(caller)
    pk, info = await exports.create_export(tenant_id, actor=caller.actor)
    jobs.enqueue(pk)
    return _ok(_out(info), 202)


@get(
    "/api/exports",
    tags=["Exports"],
    summary="The tenant's recent exports, newest first",
    responses=ok(ExportList),
)
async def list_exports(caller: NamedDependency[Principal]) -> Response[bytes]:
    infos = await exports.list_exports(_owner_only(caller))
    return _ok(ExportList([_out(i) for i in infos]))


@get(
    "/api/exports/{export_id:str}",
    tags=["Exports"],
    summary="An export's status and link",
    responses=ok(ExportOut),
)
async def export_status(
    caller: NamedDependency[Principal], export_id: FromPath[str]
) -> Response[bytes]:
    return _ok(_out(await exports.get_export(_owner_only(caller), export_id)))


def byte_range(header: str | None, size: int) -> tuple[int, int] | bool | None:
    """(first, last) of a single ``bytes=`` range; None for the whole file; False when
    the range cannot be satisfied."""
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if m is None:
        return None  # several ranges or another unit: the whole file (RFC 9110 allows it)
    first, last = m.group(1), m.group(2)
    if not first:
        if not last or int(last) == 0:
            return False
        return max(0, size - int(last)), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return False
    return start, end


async def _chunks(path: Path, start: int, length: int) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as fh:
        await fh.seek(start)
        while length > 0:
            data = await fh.read(min(CHUNK, length))
            if not data:
                return
            length -= len(data)
            yield data


async def serve_archive(request: Request[Any, Any, Any], path: Path, filename: str) -> Any:
    """The archive, whole or the requested range (shared with the console's download)."""
    size = path.stat().st_size  # noqa: ASYNC240 - one stat of a local file
    wanted = byte_range(request.headers.get("range"), size)
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "private, no-store",
    }
    if wanted is False:
        return problem(
            416,
            "Range not satisfiable",
            f"the archive has {size} bytes",
            rc=2,
            headers={**headers, "Content-Range": f"bytes */{size}"},
        )
    start, end = wanted if isinstance(wanted, tuple) else (0, size - 1)
    length = end - start + 1
    headers["Content-Length"] = str(length)
    status = 200
    if isinstance(wanted, tuple):
        status, headers["Content-Range"] = 206, f"bytes {start}-{end}/{size}"
    return Stream(
        _chunks(path, start, length),
        status_code=status,
        media_type="application/gzip",
        headers=headers,
    )


@get("/api/exports/{export_id:str}/download", tags=["Exports"], summary="Download an archive",
     responses={**ok(str, 200, 206, media_type="application/gzip"),
                416: ResponseSpec(None, description="Range not satisfiable")})  # fmt: skip
async def download_export(
    request: Request[Any, Any, Any],
    caller: NamedDependency[Principal],
    export_id: FromPath[str],
    token: Annotated[str, QueryParameter(required=False, max_length=64)] = "",
) -> Any:
    path, filename = await exports.download_path(_owner_only(caller), export_id, token)
    return await serve_archive(request, path, filename)


ROUTES = [start_export, list_exports, export_status, download_export]
