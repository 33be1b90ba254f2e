"""Bulk registration jobs: up to 1,000,000 rows of NDJSON or CSV, past the 2000-item cap.

The uploaded file is kept under ``{var_dir}/bulk/``; the job row is the durable intent.
A worker writes the rows in chunks through ``tenants.identifiers.services.batch`` (the one write
path: validation, templates, audit and outbox rows), preparing the next chunk while
the current one is written. It advances the job's cursor (``done_rows``) and stores
the chunk's failed rows *in the same transaction* as the chunk, with a
compare-and-set on the cursor. So a worker killed at any point resumes exactly where
the last commit left it, and two workers on one job cannot both write a chunk: no row
is lost and none is written twice. Only failures are stored; every other row up to the
cursor succeeded, which keeps a million-row result small.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core import audit, db
from core.auth import Principal
from core.errors import Conflict, InsufficientPermissions, InvalidValue, NotFound
from core.pgha import Contended
from core.settings import get_settings
from core.tenancy import cross_tenant, tenant_transaction
from tenants.accounts.tables import Tenant
from tenants.identifiers.services import batch as batch_writes
from tenants.identifiers.services import records, search
from tenants.identifiers.services.batch import BatchItem
from tenants.identifiers.services.bulk_cursor import ACTIVE, ACTIVE_STATUSES, commit_chunk
from tenants.identifiers.services.bulk_rows import FORMATS, Row, chunks, count_rows
from tenants.identifiers.services.bulk_status import STATUS_MODE, run_status_chunks
from tenants.identifiers.services.idempotency import Idempotency, Replay, fingerprint
from tenants.identifiers.tables import BulkJob

log = logging.getLogger("idnest.bulk")
CHUNK_ROWS = 2000
_ACTIVE = ACTIVE


@dataclass(frozen=True, slots=True)
class JobInfo:
    job_id: str
    status: str
    total_rows: int
    done_rows: int
    ok_rows: int
    failed_rows: int
    error: str

    def to_json(self) -> dict[str, Any]:
        return {
            "jobId": self.job_id,
            "status": self.status,
            "totalRows": self.total_rows,
            "doneRows": self.done_rows,
            "okRows": self.ok_rows,
            "failedRows": self.failed_rows,
            "error": self.error or None,
        }


def bulk_dir() -> Path:
    path = get_settings().var_dir / "bulk"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _info(row: dict[str, Any]) -> JobInfo:
    return JobInfo(
        row["public_id"],
        row["status"],
        row["total_rows"],
        row["done_rows"],
        row["ok_rows"],
        row["failed_rows"],
        row["error"],
    )


async def submit(
    principal: Principal,
    chunks: AsyncIterator[bytes],
    *,
    fmt: str,
    mode: str = "upsert",
    idempotency_key: str | None = None,
) -> tuple[JobInfo, bool]:
    """Store an upload and create its job: (job, replayed?). With an Idempotency-Key,
    the same upload again answers the first job instead of creating a second one."""
    if fmt not in FORMATS:
        raise InvalidValue(f"format must be one of {', '.join(FORMATS)}", field="format")
    if mode not in ("create", "update", "upsert", STATUS_MODE):
        raise InvalidValue("mode must be create, update, upsert or status", field="mode")
    if principal.tenant_id is None or not principal.can("write"):
        raise InsufficientPermissions("bulk registration needs a key with the write scope")
    public_id = uuid.uuid4().hex
    path = bulk_dir() / f"{public_id}.{fmt}"
    digest = hashlib.sha256()
    with open(path, "wb") as fh:  # noqa: ASYNC230 - streamed upload to local disk
        async for chunk in chunks:
            digest.update(chunk)
            fh.write(chunk)
    try:
        total = count_rows(path, fmt)
    except (InvalidValue, UnicodeDecodeError, csv.Error) as exc:
        path.unlink(missing_ok=True)
        if isinstance(exc, InvalidValue):
            raise
        raise InvalidValue(f"the file cannot be read as {fmt}: {exc}", field="file") from None
    guard = None
    if idempotency_key is not None:
        guard = Idempotency(
            principal.tenant_id, idempotency_key, fingerprint("bulk", fmt, mode, digest.hexdigest())
        )
        stored = await guard.lookup()
        if stored is not None:
            path.unlink(missing_ok=True)
            return await get_job(principal, stored["jobId"]), True
    now = datetime.now(UTC)
    try:
        async with tenant_transaction(principal.tenant_id):
            if guard is not None:
                await guard.claim()
            await BulkJob.insert(
                BulkJob(
                    tenant_id=principal.tenant_id,
                    public_id=public_id,
                    status="queued",
                    fmt=fmt,
                    mode=mode,
                    path=str(path),
                    total_rows=total,
                    actor=principal.actor,
                    created_at=now,
                    updated_at=now,
                )
            ).run()
            await audit.record(
                actor=principal.actor,
                action="bulk.submit",
                target=public_id,
                tenant_id=principal.tenant_id,
                detail={"rows": total, "mode": mode},
            )
            if guard is not None:
                await guard.complete({"jobId": public_id})
    except Replay as replay:
        path.unlink(missing_ok=True)
        return await get_job(principal, replay.response["jobId"]), True
    except Exception as exc:
        path.unlink(missing_ok=True)
        if guard is not None and db.is_unique_violation(exc):
            stored = await guard.lookup()
            if stored is not None:
                return await get_job(principal, stored["jobId"]), True
        raise
    return JobInfo(public_id, "queued", total, 0, 0, 0, ""), False


async def job_row(principal: Principal, job_id: str) -> dict[str, Any]:
    async with tenant_transaction(principal.tenant_id, write=False):
        row = (
            await BulkJob.select()
            .where((BulkJob.public_id == job_id) & (BulkJob.tenant_id == principal.tenant_id))
            .first()
            .run()
        )
    if row is None:
        raise NotFound(f"there is no bulk job {job_id}", field="jobId")
    return row


async def get_job(principal: Principal, job_id: str) -> JobInfo:
    return _info(await job_row(principal, job_id))


async def list_jobs(principal: Principal, *, limit: int = 20) -> list[JobInfo]:
    """The tenant's most recent jobs, newest first."""
    async with tenant_transaction(principal.tenant_id, write=False):
        rows = (
            await BulkJob.select()
            .where(BulkJob.tenant_id == principal.tenant_id)
            .order_by(BulkJob.id, ascending=False)
            .limit(limit)
            .run()
        )
    return [_info(r) for r in rows]


class _ChunkCommit:
    """Rides in ``put_records``' transaction as its idempotency guard: instead of a key,
    it records the chunk's failures and moves the job cursor (compare-and-set)."""

    def __init__(self, job_id: int, start: int, rows: list[Row], good: list[Row]) -> None:
        self.job_id, self.start, self.rows, self.good = job_id, start, rows, good
        self.done = False

    async def claim(self) -> None:
        return None

    async def complete(self, response: Any) -> None:
        failures = [(r, r.error) for r in self.rows if r.error]
        failures += [
            (row, outcome.get("error", ""))
            for row, outcome in zip(self.good, response, strict=True)
            if "error" in outcome
        ]
        await commit_chunk(self.job_id, self.start, self.rows, failures)
        self.done = True


async def process_job(job_pk: int, *, chunk_rows: int = CHUNK_ROWS) -> str:
    """Run (or resume) one job from its cursor to the end; returns the final status."""
    # The worker is sent a job's id alone; the row then says whose it is.
    async with cross_tenant("maintenance"):
        job = await BulkJob.select().where(BulkJob.id == job_pk).first().run()
    if job is None or job["status"] not in ACTIVE_STATUSES:
        return job["status"] if job else "gone"
    tid = job["tenant_id"]
    tenant = await Tenant.select(Tenant.prefix).where(Tenant.id == job["tenant_id"]).first().run()
    if tenant is None:
        return "gone"
    principal = Principal(
        actor=job["actor"],
        tenant_id=job["tenant_id"],
        tenant_prefix=tenant["prefix"],
        scopes=frozenset({"read", "write"}),
    )
    async with tenant_transaction(tid):
        await (
            BulkJob.update({BulkJob.status: "running", BulkJob.updated_at: datetime.now(UTC)})
            .where((BulkJob.id == job_pk) & _ACTIVE)
            .run()
        )
    try:
        await _run_chunks_again_if_contended(principal, job, chunk_rows)
    except Conflict:
        async with tenant_transaction(tid, write=False):
            row = await BulkJob.select(BulkJob.status).where(BulkJob.id == job_pk).first().run()
        status = row["status"] if row else "gone"
        log.info("bulk job %s stopped here: it is %s", job_pk, status)
        return status
    except OSError as exc:
        async with tenant_transaction(tid):
            await (
                BulkJob.update({BulkJob.status: "failed", BulkJob.error: str(exc)[:1024]})
                .where(BulkJob.id == job_pk)
                .run()
            )
        return "failed"
    async with tenant_transaction(tid):
        await (
            BulkJob.update({BulkJob.status: "done", BulkJob.updated_at: datetime.now(UTC)})
            .where((BulkJob.id == job_pk) & (BulkJob.done_rows == job["total_rows"]) & _ACTIVE)
            .run()
        )
    await search.merge_pending_index()
    return "done"


async def _run_chunks_again_if_contended(
    principal: Principal, job: dict[str, Any], chunk_rows: int
) -> None:
    """``_run_chunks`` from the cursor; a chunk the server rolled back to break a deadlock
    (a cancel or another writer met it) is run again from the cursor, up to three times,
    unless the job has stopped meanwhile (Conflict, as for a cancel between chunks)."""
    for attempt in range(3):
        async with tenant_transaction(job["tenant_id"], write=False):
            now = await BulkJob.select().where(BulkJob.id == job["id"]).first().run()
        if now is None or now["status"] not in ACTIVE_STATUSES:
            raise Conflict(f"bulk job {job['public_id']} stopped")
        try:
            if now["mode"] == STATUS_MODE:  # status changes (services/bulk_status.py)
                await run_status_chunks(principal, now, now["done_rows"], chunk_rows, commit_chunk)
            else:
                await _run_chunks(principal, now, now["done_rows"], chunk_rows)
            return
        except Contended:
            if attempt == 2:
                raise
            log.info("bulk job %s: a chunk was rolled back by a deadlock; again", job["id"])


async def _run_chunks(
    principal: Principal, job: dict[str, Any], start: int, chunk_rows: int
) -> None:
    """Write the job's chunks in order, preparing each (parsing, checking, building
    records: Python's share) while the one before it is written (PostgreSQL's share)."""
    writing: asyncio.Task[int] | None = None
    try:
        for rows in chunks(Path(job["path"]), job["fmt"], start, chunk_rows):
            good = [r for r in rows if not r.error]
            prepared = await batch_writes.prepare(
                principal, [BatchItem(r.handle, r.body) for r in good], mode=job["mode"]
            )
            if writing is not None:
                start = await writing
            writing = asyncio.create_task(_write_chunk(job["id"], start, rows, good, prepared))
            await asyncio.sleep(0)  # let it send its first statement before we read on
        if writing is not None:
            await writing
    finally:
        # On any way out, the chunk in flight is stopped (its transaction rolls back)
        # or finished, never left running unobserved.
        if writing is not None:
            writing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writing


async def _write_chunk(
    job_pk: int,
    start: int,
    rows: list[Row],
    good: list[Row],
    prepared: batch_writes.PreparedBatch,
) -> int:
    """Write one chunk; its failures and the cursor commit with it, or nothing does.
    Returns the new cursor."""
    commit = _ChunkCommit(job_pk, start, rows, good)
    outcomes = await batch_writes.write(prepared, idempotency=commit)
    if not commit.done:  # no row reached the write transaction: all failed early
        failures = [(r, r.error) for r in rows if r.error]
        failures += [
            (r, o.detail)
            for r, o in zip(good, outcomes, strict=True)
            if not isinstance(o, records.WriteResult)
        ]
        assert prepared.principal is not None
        async with tenant_transaction(prepared.principal.tenant_id):
            await commit_chunk(job_pk, start, rows, failures)
    return rows[-1].number


async def cancel_job(principal: Principal, job_id: str) -> JobInfo:
    """Stop a job at its next chunk. Rows already committed stay registered and are in
    the results; the chunk being written when the cancel lands is rolled back."""
    if not principal.can("write"):
        raise InsufficientPermissions("cancelling a bulk job needs a key with the write scope")
    job = await job_row(principal, job_id)
    async with tenant_transaction(principal.tenant_id):
        # The audit head first, as a chunk's write takes it (then the job row): the other
        # order deadlocked against a chunk in flight. A refused cancel rolls it back.
        await audit.record(
            actor=principal.actor,
            action="bulk.cancel",
            target=job_id,
            tenant_id=principal.tenant_id,
            detail={"doneRows": job["done_rows"]},
        )
        stopped = (
            await BulkJob.update(
                {BulkJob.status: "cancelled", BulkJob.updated_at: datetime.now(UTC)}
            )
            .where((BulkJob.id == job["id"]) & _ACTIVE)
            .returning(BulkJob.id)
            .run()
        )
        if not stopped:
            raise Conflict(f"bulk job {job_id} is already {job['status']}", field="jobId")
    return await get_job(principal, job_id)


async def unfinished_jobs(*, idle_for: timedelta | None = None) -> list[int]:
    """Jobs not yet done; with ``idle_for``, only those whose cursor has not moved for
    that long (each chunk's commit moves ``updated_at``)."""
    query = BulkJob.select(BulkJob.id).where(_ACTIVE)
    if idle_for is not None:
        query = query.where(BulkJob.updated_at < datetime.now(UTC) - idle_for)
    async with cross_tenant("maintenance"):
        return [r["id"] for r in await query.run()]


async def job_pk(principal: Principal, public_id: str) -> int:
    """The internal id of one of the caller's jobs, which is what a worker is sent."""
    async with tenant_transaction(principal.tenant_id, write=False):
        row = await BulkJob.select(BulkJob.id).where(BulkJob.public_id == public_id).first().run()
    if row is None:
        raise NotFound(f"there is no bulk job {public_id}")
    return int(row["id"])
