"""The cursor of a bulk job (services/bulk.py): a chunk's failures and the move of
``done_rows`` commit in the chunk's own transaction, with a compare-and-set on the cursor,
so a killed worker resumes exactly there and two workers never both write a chunk."""

from __future__ import annotations

from datetime import UTC, datetime

from core.errors import Conflict
from tenants.identifiers.services.bulk_rows import Row
from tenants.identifiers.tables import BulkJob, BulkJobFailure

# A job is queued, running, then done, failed or cancelled; only the first two move.
ACTIVE_STATUSES = ("queued", "running")
ACTIVE = BulkJob.status.is_in(list(ACTIVE_STATUSES))


async def commit_chunk(
    job_id: int, start: int, rows: list[Row], failures: list[tuple[Row, str]]
) -> None:
    end = rows[-1].number
    moved = (
        await BulkJob.update(
            {
                BulkJob.done_rows: end,
                BulkJob.ok_rows: BulkJob.ok_rows + (len(rows) - len(failures)),
                BulkJob.failed_rows: BulkJob.failed_rows + len(failures),
                BulkJob.updated_at: datetime.now(UTC),
            }
        )
        .where((BulkJob.id == job_id) & (BulkJob.done_rows == start) & ACTIVE)
        .returning(BulkJob.id, BulkJob.tenant_id)
        .run()
    )
    if not moved:
        raise Conflict(f"bulk job {job_id}: cancelled, or another worker moved past row {start}")
    if failures:
        await BulkJobFailure.insert(
            *(
                BulkJobFailure(
                    tenant_id=moved[0]["tenant_id"],
                    job_id=job_id,
                    row_no=r.number,
                    handle=r.handle[:2048],
                    message=msg[:1024],
                )
                for r, msg in failures
            )
        ).run()
