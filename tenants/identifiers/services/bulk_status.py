"""Bulk status changes: a bulk job of ``mode=status`` (services/bulk.py runs it).

Rows are NDJSON ``{"handle": ..., "status": ..., "reason": ..., "validFrom": ...,
"validUntil": ...}`` (any of the change's fields, as ``PATCH /api/handles/{handle}``
takes them) or CSV with a header naming those columns (``handle`` first; an empty cell
leaves that field as it is). Each chunk runs in one transaction that applies every good
row exactly as a single change does (services/lifecycle.py: the row, an audit entry, an
upstream modify), stores the chunk's failures and moves the job's cursor, so a killed
worker resumes where the last commit left it. After the commit, every changed record's
cache entry is invalidated.
"""

from __future__ import annotations

import csv
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from core.auth import Principal
from core.bus import get_bus
from core.errors import IdnestError
from core.identifiers import parse_handle
from core.tenancy import tenant_transaction
from tenants.identifiers.services.bulk_rows import Row, chunked, ndjson_documents
from tenants.identifiers.services.lifecycle import apply_change, locked_row, parse_change
from tenants.identifiers.services.records import check_served, require_scope

STATUS_MODE = "status"
Commit = Callable[[int, int, list[Row], list[tuple[Row, str]]], Awaitable[None]]


def status_rows(path: Path, fmt: str) -> Iterator[Row]:
    """Numbered data rows (as bulk_rows.iter_rows numbers them), each a handle and change."""
    with open(path, encoding="utf-8", newline="") as fh:
        if fmt == "csv":
            reader = csv.reader(fh)
            header = [h.strip() for h in next(reader, ["handle"])]
            number = 0
            for cells in reader:
                if not any(c.strip() for c in cells):
                    continue
                number += 1
                if len(cells) != len(header) or header[0].lower() != "handle":
                    yield Row(number, cells[0] if cells else "", None,
                              "the header must start with handle and match every row")  # fmt: skip
                    continue
                body = {
                    k: c.strip() for k, c in zip(header[1:], cells[1:], strict=True) if c.strip()
                }
                yield Row(number, cells[0].strip(), body)
            return
        for number, doc, error in ndjson_documents(fh, '{"handle": ..., "status": ...}'):
            yield Row(number, "", None, error) if doc is None else Row(
                number, doc.pop("handle"), doc
            )


async def run_status_chunks(
    principal: Principal, job: dict[str, Any], start: int, chunk_rows: int, commit: Commit
) -> None:
    """Apply the job's rows from its cursor, chunk by chunk; ``commit`` moves the cursor
    (bulk_cursor.commit_chunk, as bulk.py holds it)."""
    tenant_id = principal.tenant_id
    assert tenant_id is not None
    for rows in chunked(status_rows(Path(job["path"]), job["fmt"]), start, chunk_rows):
        failures: list[tuple[Row, str]] = []
        changed: list[str] = []
        async with tenant_transaction(tenant_id):
            for row in rows:
                if row.error:
                    failures.append((row, row.error))
                    continue
                try:
                    key = await _apply(principal, tenant_id, row)
                except IdnestError as exc:
                    failures.append((row, exc.detail))
                    continue
                changed.append(key)
            await commit(job["id"], start, rows, failures)
        start = rows[-1].number
        for key in changed:
            await get_bus().publish(f"rec:{key}")


async def _apply(principal: Principal, tenant_id: int, row: Row) -> str:
    """One row's change (every check before any write, so a refused row writes nothing)."""
    change = parse_change(row.body)
    handle = parse_handle(row.handle)
    check_served(handle)
    require_scope(principal, "write", handle)
    stored = await locked_row(tenant_id, handle)
    await apply_change(tenant_id, stored, change, actor=principal.actor, via="bulk")
    return handle.key
