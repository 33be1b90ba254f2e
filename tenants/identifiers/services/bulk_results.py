"""The per-row result of a bulk job: one line per processed row, ok or its error.

Only failures are stored (``BulkJobFailure``); every other row up to the job's cursor
succeeded. So the result is the upload re-read up to the cursor, merged with the stored
failures in row order, a page of failures at a time, streamed: a million-row result
never sits in memory.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from core.auth import Principal
from core.errors import InvalidValue
from core.tenancy import tenant_transaction
from tenants.identifiers.services.bulk import job_row
from tenants.identifiers.services.bulk_rows import FORMATS, iter_rows
from tenants.identifiers.tables import BulkJobFailure


async def results(principal: Principal, job_id: str, fmt: str) -> AsyncIterator[bytes]:
    """Per-row results up to the cursor, merged with the stored failures in row order."""
    if fmt not in FORMATS:
        raise InvalidValue(f"format must be one of {', '.join(FORMATS)}", field="format")
    job = await job_row(principal, job_id)
    return _result_lines(job, fmt)


_PAGE = 5000


async def _failures_from(
    tenant_id: int, job_pk: int, after: int, limit: int
) -> list[dict[str, Any]]:
    async with tenant_transaction(tenant_id, write=False):
        return (
            await BulkJobFailure.select(BulkJobFailure.row_no, BulkJobFailure.message)
            .where((BulkJobFailure.job_id == job_pk) & (BulkJobFailure.row_no > after))
            .order_by(BulkJobFailure.row_no)
            .limit(limit)
            .run()
        )


async def _result_lines(job: dict[str, Any], fmt: str) -> AsyncIterator[bytes]:
    done = job["done_rows"]
    page: dict[int, str] = {}
    covered = 0  # failures of rows up to here are in ``page``
    if fmt == "csv":
        yield b"row,handle,status,message\n"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    batch: list[str] = []
    for row in iter_rows(Path(job["path"]), job["fmt"]):
        if row.number > done:
            break
        if row.number > covered:
            fetched = await _failures_from(job["tenant_id"], job["id"], row.number - 1, _PAGE)
            page = {f["row_no"]: f["message"] for f in fetched}
            covered = fetched[-1]["row_no"] if len(fetched) == _PAGE else done
        message = page.get(row.number)
        status = "error" if message is not None else "ok"
        if fmt == "csv":
            writer.writerow([row.number, row.handle, status, message or ""])
            batch.append(out.getvalue())
            out.seek(0)
            out.truncate()
        else:
            doc = {"row": row.number, "handle": row.handle, "status": status}
            if message is not None:
                doc["message"] = message
            batch.append(json.dumps(doc, ensure_ascii=False) + "\n")
        if len(batch) >= 1000:
            yield "".join(batch).encode()
            batch = []
    if batch:
        yield "".join(batch).encode()
