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

import msgspec

from core.auth import Principal
from core.bus import get_bus
from core.errors import IdnestError
from core.identifiers import parse_handle
from core.tenancy import tenant_transaction
from tenants.identifiers.services.bulk_rows import Row
from tenants.identifiers.services.lifecycle import apply_change, locked_row, parse_change
from tenants.identifiers.services.records import check_served, require_scope

STATUS_MODE = "status"
Commit = Callable[[int, int, list[Row], list[tuple[Row, str]]], Awaitable[None]]
_decode = msgspec.json.Decoder().decode


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
        number = 0
        for line in fh:
            if not line.strip():
                continue
            number += 1
            try:
                doc = _decode(line)
            except msgspec.DecodeError as exc:
                yield Row(number, "", None, f"not valid JSON: {exc}")
                continue
            if not isinstance(doc, dict) or not isinstance(doc.get("handle"), str):
                yield Row(number, "", None, 'each line needs {"handle": ..., "status": ...}')
                continue
            yield Row(number, doc.pop("handle"), doc)


def _chunks(path: Path, fmt: str, after: int, size: int) -> Iterator[list[Row]]:
    chunk: list[Row] = []
    for row in status_rows(path, fmt):
        if row.number <= after:
            continue
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def run_status_chunks(
    principal: Principal, job: dict[str, Any], start: int, chunk_rows: int, commit: Commit
) -> None:
    """Apply the job's rows from its cursor, chunk by chunk; ``commit`` moves the cursor
    (bulk_cursor.commit_chunk, as bulk.py holds it)."""
    tenant_id = principal.tenant_id
    assert tenant_id is not None
    for rows in _chunks(Path(job["path"]), job["fmt"], start, chunk_rows):
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
