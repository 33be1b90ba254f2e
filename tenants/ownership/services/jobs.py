"""Export jobs: the durable row, its run, its progress and its download.

A job row is written first (``queued``); a worker, or the embedded process, runs it.
A run killed midway leaves ``running`` with no archive under the final name; it is run
again from the start (by the start-up resume and the ``export-redrive`` periodic job),
which completes it. The download is authorised twice over: the caller must act for the
job's tenant, and the link carries a token that expires (``export_link_hours``).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core import audit
from core.errors import AuthenticationFailed, NotFound
from core.settings import get_settings
from core.tenancy import cross_tenant, tenant_transaction
from tenants.ownership.services.export import count_rows, export_tenant
from tenants.ownership.tables import TenantExport

UNFINISHED = ("queued", "running")


@dataclass(frozen=True)
class ExportInfo:
    id: str
    status: str
    rows_done: int
    rows_total: int
    size: int
    error: str
    created_at: datetime
    expires_at: datetime | None
    download: str | None

    @property
    def percent(self) -> int:
        if self.status == "done":
            return 100
        return 100 * self.rows_done // self.rows_total if self.rows_total else 0


def exports_dir() -> Path:
    path = get_settings().var_dir / "exports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _info(row: dict[str, Any], now: datetime | None = None) -> ExportInfo:
    now = now or datetime.now(UTC)
    expires = row["expires_at"]
    live = row["status"] == "done" and expires is not None and expires > now
    download = f"/api/exports/{row['public_id']}/download?token={row['token']}" if live else None
    status = "expired" if row["status"] == "done" and not live else row["status"]
    return ExportInfo(
        row["public_id"],
        status,
        row["rows_done"],
        row["rows_total"],
        row["size"],
        row["error"],
        row["created_at"],
        expires,
        download,
    )


async def create_export(tenant_id: int, *, actor: str) -> tuple[int, ExportInfo]:
    """A queued export job; never refused for the tenant's status or unpaid invoices."""
    now = datetime.now(UTC)
    public_id = "exp_" + secrets.token_urlsafe(18)
    async with tenant_transaction(tenant_id):
        row = (
            await TenantExport.insert(
                TenantExport(
                    tenant_id=tenant_id,
                    public_id=public_id,
                    status="queued",
                    token=secrets.token_urlsafe(24),
                    actor=actor,
                    created_at=now,
                    updated_at=now,
                )
            )
            .returning(*TenantExport.all_columns())
            .run()
        )[0]
        await audit.record(
            actor=actor, action="export.request", target=public_id, tenant_id=tenant_id
        )
    return int(row["id"]), _info(row, now)


async def _row(tenant_id: int, public_id: str) -> dict[str, Any]:
    async with tenant_transaction(tenant_id, write=False):
        row = await (
            TenantExport.select()
            .where((TenantExport.public_id == public_id) & (TenantExport.tenant_id == tenant_id))
            .first()
            .run()
        )
    if row is None:
        raise NotFound(f"there is no export {public_id}", field="id")
    return row


async def get_export(tenant_id: int, public_id: str) -> ExportInfo:
    return _info(await _row(tenant_id, public_id))


async def list_exports(tenant_id: int, *, limit: int = 10) -> list[ExportInfo]:
    async with tenant_transaction(tenant_id, write=False):
        rows = await (
            TenantExport.select()
            .where(TenantExport.tenant_id == tenant_id)
            .order_by(TenantExport.id, ascending=False)
            .limit(limit)
            .run()
        )
    return [_info(r) for r in rows]


async def download_path(tenant_id: int, public_id: str, token: str) -> tuple[Path, str]:
    """The archive of one of the tenant's finished exports, if the token holds."""
    row = await _row(tenant_id, public_id)
    info = _info(row)
    if not token or not hmac.compare_digest(token, row["token"]):
        raise AuthenticationFailed("the download link is not valid")
    if info.download is None:
        raise NotFound(f"export {public_id} is {info.status}; no download", field="id")
    return Path(row["path"]), f"{public_id}.tar.gz"


async def _update(pk: int, tenant_id: int, **values: Any) -> None:
    async with tenant_transaction(tenant_id):
        changes: dict[Any, Any] = {**values, "updated_at": datetime.now(UTC)}
        await TenantExport.update(changes).where(TenantExport.id == pk).run()


async def process_export(pk: int) -> str:
    """Run one export job to the end (from the start: a rerun replaces any leftovers)."""
    async with cross_tenant("maintenance"):
        job = await TenantExport.select().where(TenantExport.id == pk).first().run()
    if job is None or job["status"] not in UNFINISHED:
        return "nothing to do"
    tenant_id = int(job["tenant_id"])
    total = await count_rows(tenant_id)
    await _update(pk, tenant_id, status="running", rows_done=0, rows_total=total)
    dest = exports_dir() / f"{job['public_id']}.tar.gz"

    async def progress(done: int) -> None:
        await _update(pk, tenant_id, rows_done=done)

    try:
        await export_tenant(tenant_id, dest, progress=progress)
    except Exception as exc:
        await _update(pk, tenant_id, status="failed", error=str(exc)[:1000])
        raise
    expires = datetime.now(UTC) + timedelta(hours=get_settings().export_link_hours)
    await _update(
        pk,
        tenant_id,
        status="done",
        rows_done=total,
        path=str(dest),
        size=dest.stat().st_size,
        expires_at=expires,
    )
    return f"export {job['public_id']}: {total} rows"


async def unfinished_exports(*, idle_for: timedelta | None = None) -> list[int]:
    where: Any = TenantExport.status.is_in(list(UNFINISHED))
    if idle_for is not None:
        where = where & (TenantExport.updated_at < datetime.now(UTC) - idle_for)
    async with cross_tenant("maintenance"):
        rows = await TenantExport.select(TenantExport.id).where(where).run()
    return [int(r["id"]) for r in rows]
