"""Staff imports: an uploaded archive, its durable job row, its run and its progress.

The upload is stored under ``var/imports`` and a ``queued`` row written; a worker (or
the embedded process) runs ``import_archive`` on it. The import is one transaction and
the row is marked ``done`` inside it, so a run killed midway leaves the row unfinished
and nothing else; it is claimed again and run from the start (the start-up resume and
the ``import-redrive`` periodic job, once it has been idle ``export_stall_seconds``).

Progress: on PostgreSQL it is written beside the import's transaction, on a connection
of its own, which also keeps the claim fresh. SQLite has one writer, the import, so
there the running process keeps it in memory (the embedded profile runs its jobs in
process, so the page asking is that process).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core import audit
from core.errors import IdnestError, NotFound
from core.settings import get_settings
from core.tenancy import cross_tenant
from tenants.ownership.services import archive
from tenants.ownership.services.importer import import_archive
from tenants.ownership.tables import TenantImport

log = logging.getLogger("idnest.imports")
UNFINISHED = ("queued", "running")
MAX_IMPORT_BYTES = 16 << 30  # the largest archive the console takes
PROGRESS_EVERY = 1.0  # seconds between progress writes
_running: set[int] = set()  # jobs this process is running now
_progress: dict[int, int] = {}  # rows done, for SQLite (see the module docstring)


@dataclass(frozen=True)
class ImportInfo:
    id: str
    status: str
    prefix: str
    rows_done: int
    rows_total: int
    size: int
    error: str
    actor: str
    created_at: datetime

    @property
    def percent(self) -> int:
        if self.status == "done":
            return 100
        return 100 * self.rows_done // self.rows_total if self.rows_total else 0


def imports_dir() -> Path:
    path = get_settings().var_dir / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _info(row: dict[str, Any]) -> ImportInfo:
    done = _progress.get(int(row["id"]), int(row["rows_done"]))
    return ImportInfo(row["public_id"], row["status"], row["prefix"], done, row["rows_total"],
                      row["size"], row["error"], row["actor"], row["created_at"])  # fmt: skip


async def receive_archive(
    chunks: AsyncIterator[bytes], *, actor: str, max_bytes: int = MAX_IMPORT_BYTES
) -> tuple[int, ImportInfo]:
    """Store an uploaded archive (at most ``max_bytes``) and queue its import."""
    public_id = "imp_" + secrets.token_urlsafe(18)
    dest = imports_dir() / f"{public_id}.tar.gz"
    partial = dest.with_suffix(".partial")
    size = 0
    try:
        with open(partial, "wb") as fh:  # noqa: ASYNC230 - a local file, written in chunks
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise archive.ArchiveInvalid(f"the archive is larger than {max_bytes} bytes")
                fh.write(chunk)
            os.fsync(fh.fileno())  # acknowledged means on disk
        if size == 0:
            raise archive.ArchiveInvalid("the upload is empty")
        os.replace(partial, dest)
    finally:
        partial.unlink(missing_ok=True)
    now = datetime.now(UTC)
    async with cross_tenant("ownership", write=True):
        row = (
            await TenantImport.insert(
                TenantImport(
                    public_id=public_id,
                    status="queued",
                    path=str(dest),
                    size=size,
                    actor=actor,
                    created_at=now,
                    updated_at=now,
                )
            )
            .returning(*TenantImport.all_columns())
            .run()
        )[0]
        await audit.record(actor=actor, action="import.request", target=public_id,
                           detail={"bytes": size})  # fmt: skip
    return int(row["id"]), _info(row)


async def get_import(public_id: str) -> ImportInfo:
    async with cross_tenant("ownership"):
        row = await TenantImport.select().where(TenantImport.public_id == public_id).first().run()
    if row is None:
        raise NotFound(f"there is no import {public_id}", field="id")
    return _info(row)


async def list_imports(*, limit: int = 20) -> list[ImportInfo]:
    async with cross_tenant("ownership"):
        rows = await (
            TenantImport.select().order_by(TenantImport.id, ascending=False).limit(limit).run()
        )
    return [_info(r) for r in rows]


async def _claim(pk: int) -> dict[str, Any] | None:
    """Take the job if it is queued, or running but idle past the stall time (its run
    died); the update is the claim, so two processes never both run it."""
    now = datetime.now(UTC)
    stale = now - timedelta(seconds=get_settings().export_stall_seconds)
    async with cross_tenant("ownership", write=True):
        rows = await (
            TenantImport.update({TenantImport.status: "running", TenantImport.updated_at: now})
            .where((TenantImport.id == pk) & (
                (TenantImport.status == "queued")
                | ((TenantImport.status == "running") & (TenantImport.updated_at < stale))))
            .returning(*TenantImport.all_columns())
            .run()
        )  # fmt: skip
    return rows[0] if rows else None


async def _set(pk: int, **values: Any) -> None:
    """Update a job that is still unfinished (a ``done`` row is never overwritten)."""
    where = (TenantImport.id == pk) & TenantImport.status.is_in(list(UNFINISHED))
    changes: dict[Any, Any] = {**values, "updated_at": datetime.now(UTC)}
    async with cross_tenant("ownership", write=True):
        await TenantImport.update(changes).where(where).run()


async def _beside(pk: int, rows_done: int) -> None:
    """Progress written outside the import's transaction (a fresh context: Piccolo's
    current transaction is a context variable), on PostgreSQL only."""
    task = asyncio.get_running_loop().create_task(
        _set(pk, rows_done=rows_done), context=contextvars.Context()
    )
    await task


async def process_import(pk: int) -> str:
    """Run one import job to the end; a refused archive ends it ``failed``, named."""
    if pk in _running:
        return "already running here"
    job = await _claim(pk)
    if job is None:
        return "nothing to do"
    _running.add(pk)
    path = Path(job["path"])
    try:
        return await _run(pk, job, path)
    finally:
        _running.discard(pk)
        _progress.pop(pk, None)


async def _run(pk: int, job: dict[str, Any], path: Path) -> str:
    try:
        manifest = archive.peek_manifest(path)
        files = manifest.get("files") or []
        total = sum(int(f.get("rows") or 0) for f in files if isinstance(f, dict))
        await _set(pk, prefix=str(manifest.get("tenant", ""))[:255], rows_total=total)
    except (archive.ArchiveInvalid, OSError, ValueError, TypeError) as exc:
        return await _failed(pk, path, exc)
    embedded = get_settings().embedded
    tables: dict[str, int] = {}
    last = time.monotonic()

    async def progress(table: str, done: int) -> None:
        nonlocal last
        tables[table] = done
        _progress[pk] = sum(tables.values())
        if not embedded and time.monotonic() - last >= PROGRESS_EVERY:
            last = time.monotonic()
            await _beside(pk, _progress[pk])

    async def mark_done(prefix: str, tenant_id: int) -> None:
        await TenantImport.update({
            TenantImport.status: "done", TenantImport.prefix: prefix,
            TenantImport.rows_done: total, TenantImport.error: "",
            TenantImport.updated_at: datetime.now(UTC),
        }).where(TenantImport.id == pk).run()  # fmt: skip

    try:
        result = await import_archive(
            path, actor=job["actor"] or "staff", progress=progress, before_commit=mark_done
        )
    except IdnestError as exc:
        return await _failed(pk, path, exc)
    except Exception as exc:  # a bug or an outage: logged, the job ends failed, not retried
        log.exception("import %s failed", job["public_id"])
        return await _failed(pk, path, exc)
    _remove(path)
    return f"import {job['public_id']}: {result['tenant']}, {sum(result['rows'].values())} rows"


async def _failed(pk: int, path: Path, exc: BaseException) -> str:
    detail = getattr(exc, "detail", None) or f"{type(exc).__name__}: {exc}"
    await _set(pk, status="failed", error=str(detail)[:1000])
    _remove(path)  # the staff member still has the file
    return f"import failed: {detail}"


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


async def unfinished_imports(*, idle_for: timedelta | None = None) -> list[int]:
    where: Any = TenantImport.status.is_in(list(UNFINISHED))
    if idle_for is not None:
        where = where & (TenantImport.updated_at < datetime.now(UTC) - idle_for)
    async with cross_tenant("ownership"):
        rows = await TenantImport.select(TenantImport.id).where(where).run()
    return [int(r["id"]) for r in rows]
