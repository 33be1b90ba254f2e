"""Console batch upload: CSV, NDJSON or XLSX files as bulk registration jobs.

This is a door onto the same machinery as ``POST /api/bulk/jobs`` (tenants.identifiers.services.bulk
and its jobs): the upload is stored, a job row is written, and the job runs in the
background, resumable from its cursor. The page shows progress and offers the per-row
result file. A workbook is converted to CSV first; the column layout is the same.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath
from litestar.response import Stream

from core.errors import IdnestError
from portal.web.common import describe_error, page, redirect, require_member
from portal.web.console import refuse_readonly
from tenants.identifiers import jobs
from tenants.identifiers.services import bulk, bulk_results
from tenants.identifiers.services.bulk_rows import MAX_UPLOAD_BYTES, xlsx_to_csv

MODES = ("create", "upsert", "update", "status")  # status: services/bulk_status.py
_CHUNK = 1 << 20


def sniff_format(head: bytes) -> str:
    """By content, not by name: a workbook is a zip; NDJSON lines start with '{'."""
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return "ndjson"
    return "csv"


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    with open(path, "rb") as fh:  # noqa: ASYNC230 - a local temp file, read in chunks
        while chunk := fh.read(_CHUNK):
            yield chunk


async def _save_upload(upload: UploadFile, target: Path) -> bytes:
    head = b""
    with open(target, "wb") as fh:  # noqa: ASYNC230 - a local temp file
        while chunk := await upload.read(_CHUNK):
            if not head:
                head = chunk[:64]
            fh.write(chunk)
    return head


async def _page(
    request: Request[Any, Any, Any], m: Any, *, status: int = 200, error: str = ""
) -> Response[str]:
    recent = await bulk.list_jobs(m.principal())
    return await page(
        request,
        "console/batch.html",
        m=m,
        jobs=recent,
        modes=MODES,
        upload_error=error,
        status=status,
    )


@get("/console/{prefix:str}/batch", include_in_schema=False)
async def batch(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[str]:
    _v, m = await require_member(request, prefix)
    return await _page(request, m)


@post(
    "/console/{prefix:str}/batch", include_in_schema=False, request_max_body_size=MAX_UPLOAD_BYTES
)
async def upload_batch(request: Request[Any, Any, Any], prefix: FromPath[str]) -> Response[Any]:
    _v, m = await require_member(request, prefix)
    refuse_readonly(m)
    form = await request.form()
    upload = form.get("file")
    mode = str(form.get("mode") or "create")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return await _page(request, m, status=400, error="Choose a CSV, NDJSON or XLSX file.")
    if mode not in MODES:
        return await _page(request, m, status=400, error="Choose create, upsert or update.")
    with tempfile.TemporaryDirectory(prefix="idnest-batch-") as tmp:
        raw = Path(tmp) / "upload"
        head = await _save_upload(upload, raw)
        fmt = sniff_format(head)
        try:
            if fmt == "xlsx":
                converted = Path(tmp) / "upload.csv"
                await asyncio.to_thread(xlsx_to_csv, raw, converted)
                raw, fmt = converted, "csv"
            info, _replayed = await bulk.submit(
                m.principal(), _file_chunks(raw), fmt=fmt, mode=mode
            )
        except IdnestError as exc:
            return await _page(request, m, status=400, error=describe_error(request, exc))
    jobs.enqueue(await bulk.job_pk(m.principal(), info.job_id))
    return redirect(f"/console/{m.prefix}/batch/{info.job_id}")


@get("/console/{prefix:str}/batch/{job_id:str}", include_in_schema=False)
async def batch_job(
    request: Request[Any, Any, Any], prefix: FromPath[str], job_id: FromPath[str]
) -> Response[str]:
    _v, m = await require_member(request, prefix)
    info = await bulk.get_job(m.principal(), job_id)  # another tenant's job: NotFound
    return await page(
        request,
        "console/batch_job.html",
        m=m,
        job=info,
        running=info.status in ("queued", "running"),
    )


@post("/console/{prefix:str}/batch/{job_id:str}/cancel", include_in_schema=False)
async def cancel_batch(
    request: Request[Any, Any, Any], prefix: FromPath[str], job_id: FromPath[str]
) -> Response[Any]:
    _v, m = await require_member(request, prefix)
    refuse_readonly(m)
    await bulk.cancel_job(m.principal(), job_id)  # another tenant's job: NotFound
    return redirect(f"/console/{m.prefix}/batch/{job_id}")


@get("/console/{prefix:str}/batch/{job_id:str}/results", include_in_schema=False)
async def batch_results(
    request: Request[Any, Any, Any], prefix: FromPath[str], job_id: FromPath[str]
) -> Stream:
    _v, m = await require_member(request, prefix)
    lines = await bulk_results.results(m.principal(), job_id, "csv")
    return Stream(
        lines,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{job_id}-results.csv"'},
    )


ROUTES = [batch, upload_batch, batch_job, cancel_batch, batch_results]
