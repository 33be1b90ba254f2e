"""A tenant's whole export: every exportable declared tenant table, plus its profile,
application record and members, streamed page by page into an archive.

Pages are keyset pages (``id > last``), so the cost of a page does not grow with the
offset and memory holds one page at a time. On SQLite the tenant test is written
``+tenant_id``: without it the planner reads the page through a ``(tenant_id, …)``
index and sorts the tenant's every row by id for each page (0.15 s a page of a
1M-row tenant, most of a 1M export's time); with it, the rows are read in id order
from the table itself and the tenant is a filter. Export is never refused for a tenant's
status: a suspended tenant, or one with unpaid invoices, takes its data all the same.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from piccolo.columns.combination import WhereRaw

from core import db
from core.errors import NotFound
from core.settings import get_settings
from core.tenancy import TENANT_COLUMN, TENANT_TABLES, piccolo_table, tenant_transaction
from tenants.accounts.tables import Membership, Tenant, User
from tenants.onboarding.tables import Application, Upload
from tenants.ownership.services import archive
from tenants.ownership.services.rows import NODE_SPECIFIC, export_row, exported_columns

PAGE_ROWS = 5000
Progress = Callable[[int], Awaitable[None]]
# The application record leaves out the encrypted ID and mobile numbers (their masks travel).
_APPLICATION_SECRET = ("contact_id_enc", "contact_mobile_enc", "pending_changes")


async def count_rows(tenant_id: int) -> int:
    total = 0
    async with tenant_transaction(tenant_id, write=False):
        for table in TENANT_TABLES:
            if table.exportable:
                cls = piccolo_table(table.name)
                total += await cls.count().where(getattr(cls, TENANT_COLUMN) == tenant_id).run()
    return total


def _of_tenant(cls: Any, tenant_id: int) -> Any:
    if isinstance(db.engine(), db.PostgresEngine):
        return getattr(cls, TENANT_COLUMN) == tenant_id
    # Unary plus: not an index term for SQLite's planner (the module's docstring).
    return WhereRaw(f'+"{cls._meta.tablename}"."{TENANT_COLUMN}" = {{}}', tenant_id)


async def _pages(cls: Any, columns: list[Any], tenant_id: int) -> Any:
    last = 0
    of_tenant, id_col = _of_tenant(cls, tenant_id), cls._meta.primary_key
    while True:
        async with tenant_transaction(tenant_id, write=False):
            query = cls.select(*columns).where(of_tenant & (id_col > last))
            rows = await query.order_by(id_col).limit(PAGE_ROWS).output(load_json=True).run()
        if not rows:
            return
        yield rows
        last = rows[-1]["id"]
        if len(rows) < PAGE_ROWS:
            return


async def _profile(writer: archive.ArchiveWriter, tenant_id: int) -> dict[str, Any]:
    tenant = await Tenant.select().where(Tenant.id == tenant_id).first().run()
    if tenant is None:
        raise NotFound(f"there is no tenant {tenant_id}")
    writer.write_rows("tenant.ndjson", [tenant])
    apps = await (
        Application.select(
            *Application.all_columns(
                exclude=[getattr(Application, name) for name in _APPLICATION_SECRET]
            )
        )
        .where(Application.approved_tenant_id == tenant_id)
        .order_by(Application.id)
        .run()
    )
    licences = [a["licence_id"] for a in apps if a["licence_id"]]
    uploads = (
        await Upload.select(
            Upload.id, Upload.filename, Upload.content_type, Upload.size, Upload.created_at
        )
        .where(Upload.id.is_in(licences))
        .run()
        if licences
        else []
    )
    writer.write_rows("application.ndjson", [{**a, "licence": uploads} for a in apps])
    return tenant


async def _member_emails(tenant_id: int) -> dict[int, dict[str, Any]]:
    async with tenant_transaction(tenant_id, write=False):
        rows = (
            await Membership.select(Membership.user).where(Membership.tenant_id == tenant_id).run()
        )
    ids = [r["user"] for r in rows]
    if not ids:
        return {}
    users = (
        await User.select(User.id, User.email, User.display_name).where(User.id.is_in(ids)).run()
    )
    return {u["id"]: u for u in users}


async def export_tenant(
    tenant_id: int, dest: Path, *, progress: Progress | None = None
) -> dict[str, Any]:
    """Write the tenant's archive to ``dest``; its manifest."""
    writer = archive.ArchiveWriter(dest)
    withheld: dict[str, int] = {}
    done = 0
    try:
        tenant = await _profile(writer, tenant_id)
        members = await _member_emails(tenant_id)
        for table in TENANT_TABLES:
            if not table.exportable:
                continue
            cls = piccolo_table(table.name)
            name = f"{table.name}.ndjson"
            writer.part(name)  # an empty table is an empty file, listed all the same
            async for page in _pages(cls, exported_columns(table, cls), tenant_id):
                if table.name == "memberships":
                    page = [_member(r, members) for r in page]
                writer.write_rows(name, [export_row(table.name, r, withheld) for r in page])
                done += len(page)
                if progress is not None:
                    await progress(done)
        settings = get_settings()
        manifest = {
            "format": archive.FORMAT,
            "format_version": archive.FORMAT_VERSION,
            "node": {"prefix": settings.node_prefix, "base_url": settings.public_base_url},
            "tenant": tenant["prefix"],
            "created_at": datetime.now(UTC).isoformat(),
            "node_specific": NODE_SPECIFIC,
            "withheld": {
                "secret_columns": {
                    t.name: list(t.secret_columns) for t in TENANT_TABLES if t.secret_columns
                },
                "values": withheld,
                "application": list(_APPLICATION_SECRET),
            },
        }
        return writer.finish(manifest)
    except BaseException:
        writer.abort()
        raise


def _member(row: dict[str, Any], users: dict[int, dict[str, Any]]) -> dict[str, Any]:
    user = users.get(row.pop("user"), {})
    return {**row, "email": user.get("email", ""), "display_name": user.get("display_name", "")}
