"""Bulk registration jobs over HTTP: upload, progress, per-row results.

``POST /api/bulk/jobs?format=ndjson|csv&mode=create|update|upsert|status`` takes the file
as the request body (streamed to disk) and answers 202 with the job (``mode=status``:
rows of status changes, services/bulk_status.py). An Idempotency-Key
makes a resubmission answer the same job. The console's batch upload calls the same
``bulk.submit``. ``POST /api/bulk/jobs/{id}/cancel`` stops a job at its next chunk.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Stream

from core.auth import Principal
from core.openapi import body, ok
from tenants.identifiers import jobs
from tenants.identifiers.schemas import UPLOAD, UPLOAD_TYPES, JobAnswer, JobList
from tenants.identifiers.services import bulk, bulk_results
from tenants.identifiers.services.bulk_rows import MAX_UPLOAD_BYTES

_json = msgspec.json.Encoder()


def _ok(body: Any, status: int = 200) -> Response[bytes]:
    return Response(content=_json.encode(body), status_code=status, media_type="application/json")


@post(
    "/api/bulk/jobs",
    tags=["Bulk"],
    summary="Upload up to 1,000,000 rows as a bulk job",
    description="mode=create|update|upsert registers records; mode=status changes status "
    'and validity, one {"handle", "status", "reason", "validFrom", "validUntil"} per row.',
    request_max_body_size=MAX_UPLOAD_BYTES,  # Litestar's default would stop at 10 MB
    status_code=202,
    responses=ok(JobAnswer, 200, 202),
    operation_class=body(raw=UPLOAD, media_types=UPLOAD_TYPES),
)
async def submit_job(
    request: Request[Any, Any, Any],
    caller: NamedDependency[Principal],
    fmt: Annotated[str, QueryParameter(name="format", required=False)] = "ndjson",
    mode: Annotated[str, QueryParameter(required=False)] = "upsert",
) -> Response[bytes]:
    info, replayed = await bulk.submit(
        caller,
        request.stream(),
        fmt=fmt,
        mode=mode,
        idempotency_key=request.headers.get("idempotency-key"),
    )
    if not replayed:
        jobs.enqueue(await bulk.job_pk(caller, info.job_id))
    return _ok({"responseCode": 1, **info.to_json()}, 200 if replayed else 202)


@get("/api/bulk/jobs/{job_id:str}", tags=["Bulk"], summary="A bulk job's progress",
     responses=ok(JobAnswer))  # fmt: skip
async def job_status(caller: NamedDependency[Principal], job_id: FromPath[str]) -> Response[bytes]:
    info = await bulk.get_job(caller, job_id)
    return _ok({"responseCode": 1, **info.to_json()})


@get("/api/bulk/jobs", tags=["Bulk"], summary="The tenant's recent bulk jobs, newest first",
     responses=ok(JobList))  # fmt: skip
async def list_jobs(
    caller: NamedDependency[Principal],
    limit: Annotated[int, QueryParameter(required=False, ge=1, le=100)] = 20,
) -> Response[bytes]:
    infos = await bulk.list_jobs(caller, limit=limit)
    return _ok({"responseCode": 1, "jobs": [i.to_json() for i in infos]})


@post("/api/bulk/jobs/{job_id:str}/cancel", tags=["Bulk"], summary="Stop a bulk job",
      status_code=200, responses=ok(JobAnswer))  # fmt: skip
async def cancel_job(caller: NamedDependency[Principal], job_id: FromPath[str]) -> Response[bytes]:
    info = await bulk.cancel_job(caller, job_id)
    return _ok({"responseCode": 1, **info.to_json()})


@get("/api/bulk/jobs/{job_id:str}/results", tags=["Bulk"], summary="Per-row results",
     responses=ok(str, media_type="text/csv"),
     operation_class=body(also={200: {"application/x-ndjson": {"type": "string"}}}))  # fmt: skip
async def job_results(
    caller: NamedDependency[Principal],
    job_id: FromPath[str],
    fmt: Annotated[str, QueryParameter(name="format", required=False)] = "csv",
) -> Stream:
    lines = await bulk_results.results(caller, job_id, fmt)
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson"
    return Stream(
        lines,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{job_id}-results.{fmt}"'},
    )


ROUTES = [submit_job, list_jobs, job_status, cancel_job, job_results]
