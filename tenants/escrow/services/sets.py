"""Writing an escrow set (数据托管): a FULL of the node's core data, or a DIFF since the
last set's watermark, read in one snapshot and sealed file by file.

What is escrowed is what core/tenancy.py marks ``escrow`` (prefixes with their status,
every record, templates, namespaces and codes, GS1 links and items, mappings), plus the
node's profile and resolution configuration (``node.ndjson``); ``0.NA/{prefix}`` handles
are derived from those two, as the resolver derives them.

A set is made in four durable steps, so a run killed anywhere leaves nothing that looks
finished: its ``escrow_sets`` row (``writing``) → its files in ``.tmp-{name}/`` → the
signed manifest → one rename to ``{name}/`` and the row marked ``written``. The next run
first deletes what a killed run left (row and directories) and then makes its own.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core import changelog, crypto
from core.changelog import Snapshot
from core.settings import Settings
from core.tables import EscrowChange, EscrowSet
from core.tenancy import escrow_tables
from tenants.escrow.services.sealed import FORMAT, SealedWriter, escrow_key, seal_manifest

PAGE = 2000
_LOCK_KEY = 0x1D_E5C0


@dataclass
class SetInfo:
    name: str
    kind: str
    path: Path
    changes: int
    rows: int


@asynccontextmanager
async def exclusive(settings: Settings) -> AsyncIterator[None]:
    """One escrow run (or restore) at a time on this node, whoever starts it."""
    url = settings.effective_database_url
    if url.startswith("sqlite:"):
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        with open(settings.var_dir / "escrow.lock", "w") as fh:  # noqa: ASYNC230 - a lock file
            # Never a blocking flock: escrow-full and escrow-diff fall due together at
            # start-up in one process, and a blocked event loop froze the whole node
            # (its open SQLite transaction with it) while the holder could not go on.
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    await asyncio.sleep(0.05)
            yield
        return
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        yield
    finally:
        await conn.close()


async def _forget_unfinished() -> None:
    """A run killed midway left a ``writing`` row and maybe directories: remove them."""
    rows = await EscrowSet.select().where(EscrowSet.status == "writing").run()
    for row in rows:
        final = Path(row["path"])
        for path in (final, final.parent / f".tmp-{final.name}"):
            shutil.rmtree(path, ignore_errors=True)
        await EscrowSet.delete().where(EscrowSet.id == row["id"]).run()


async def _base() -> dict[str, Any] | None:
    rows = (
        await EscrowSet.select()
        .where(EscrowSet.status.is_in(["written", "uploaded"]))
        .order_by(EscrowSet.id, ascending=False)
        .limit(1)
        .run()
    )
    return rows[0] if rows else None


def node_profile(settings: Settings) -> dict[str, Any]:
    """The node's profile and resolution configuration, as the top-level node lists it."""
    return {
        "node_prefix": settings.node_prefix,
        "node_name": settings.node_name,
        "public_base_url": settings.public_base_url,
        "code_types": ["Handle", "GS1", "OID", "Ecode", "VAA"],
        "oid_arc": settings.oid_arc,
        "wire_addresses": settings.wire_addresses,
        "wire_port": settings.wire_port,
        "http_port": settings.site_http_port or settings.port,
        "public_key": crypto.public_signing_key(),
    }


async def run(settings: Settings, *, full: bool = False, out: Path | None = None) -> SetInfo:
    """Write the next escrow set; a DIFF unless ``full`` or there is no set to follow."""
    key = escrow_key(settings)
    directory = _prepare(Path(out or settings.escrow_path))
    async with exclusive(settings):
        await _forget_unfinished()
        base = None if full else await _base()
        kind = "diff" if base else "full"
        now = datetime.now(UTC)
        row = EscrowSet(name=f"pending-{now.timestamp()}", kind=kind, path="",
                        base_id=base["id"] if base else None, created_at=now)  # fmt: skip
        await row.save().run()
        name = f"{row.id:06d}-{kind}-{now:%Y%m%dT%H%M%SZ}"
        await (
            EscrowSet.update({EscrowSet.name: name, EscrowSet.path: str(directory / name)})
            .where(EscrowSet.id == row.id)
            .run()
        )
        tmp = directory / f".tmp-{name}"
        tmp.mkdir()
        async with changelog.snapshot() as snap:
            manifest = await _write(snap, tmp, key, settings, name, kind, base)
        seal_manifest(tmp, manifest, key)
        tmp.rename(directory / name)
        await EscrowSet.update({
            EscrowSet.status: "written", EscrowSet.watermark: manifest["watermark"],
            EscrowSet.changes: manifest["changes"], EscrowSet.written_at: datetime.now(UTC),
        }).where(EscrowSet.id == row.id).run()  # fmt: skip
        await _purge(snap.postgres, manifest["watermark"])
    rows = sum(f["rows"] for f in manifest["files"])
    return SetInfo(name, kind, directory / name, manifest["changes"], rows)


def _prepare(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    return directory.resolve()


async def _write(snap: Snapshot, tmp: Path, key: bytes, settings: Settings, name: str,
                 kind: str, base: dict[str, Any] | None) -> dict[str, Any]:  # fmt: skip
    files = []
    node = SealedWriter(tmp / "node.ndjson", key, name)
    node.write_line(json.dumps(node_profile(settings), sort_keys=True).encode())
    files.append(_entry("node.ndjson", None, node.close()))
    changes = 0
    for table in escrow_tables():
        writer = SealedWriter(tmp / f"{table}.ndjson", key, name)
        if base is None:
            await _full_table(snap, table, writer)
        else:
            changes += await _diff_table(snap, table, writer, int(base["watermark"]))
        files.append(_entry(f"{table}.ndjson", table, writer.close()))
    return {
        "format": FORMAT,
        "set": name,
        "kind": kind,
        "base": base["name"] if base else None,
        "node": settings.node_prefix,
        "profile": "postgres" if snap.postgres else "sqlite",
        "watermark": snap.mark,
        "base_watermark": int(base["watermark"]) if base else None,
        "changes": changes,
        "created_at": datetime.now(UTC).isoformat(),
        "tables": escrow_tables(),
        "files": files,
    }


def _entry(name: str, table: str | None, closed: tuple[int, str, int]) -> dict[str, Any]:
    rows, digest, size = closed
    return {"name": name, "table": table, "rows": rows, "sha256": digest, "bytes": size}


def _select_rows(snap: Snapshot, table: str, where: str) -> str:
    if snap.postgres:
        return f'SELECT t.id, row_to_json(t)::text FROM "{table}" t WHERE {where} ORDER BY t.id'  # noqa: S608
    return f'SELECT * FROM "{table}" t WHERE {where} ORDER BY t.id'  # noqa: S608


async def _rows(snap: Snapshot, sql: str, *args: Any) -> list[tuple[int, bytes]]:
    """(id, the row as JSON) for each row the query finds."""
    if snap.postgres:
        return [(int(r[0]), r[1].encode()) for r in await snap.fetch(sql, *args)]
    cursor = await snap.conn.execute(sql, args)
    names = [d[0] for d in cursor.description]
    found = await cursor.fetchall()
    return [(int(r[0]), json.dumps(dict(zip(names, r, strict=True))).encode()) for r in found]


async def _full_table(snap: Snapshot, table: str, writer: SealedWriter) -> None:
    last = 0
    sql = _select_rows(snap, table, "t.id > ?") + f" LIMIT {PAGE}"
    while page := await _rows(snap, sql, last):
        for _, data in page:
            writer.write_line(b'{"op":"put","row":' + data + b"}")
        last = page[-1][0]


async def _diff_table(snap: Snapshot, table: str, writer: SealedWriter, since: int) -> int:
    """Each row changed since the base: as it is now, or its tombstone. Returns how
    many changes (log entries) that covers."""
    key = "xid" if snap.postgres else "id"
    (count,) = (await snap.fetch(
        f"SELECT count(*) FROM escrow_changes WHERE table_name = ? AND {key} >= ? AND {key} < ?",  # noqa: S608
        table, since, snap.mark,
    ))[0]  # fmt: skip
    ids_sql = (
        f"SELECT DISTINCT row_id FROM escrow_changes WHERE table_name = ? AND {key} >= ? "  # noqa: S608
        f"AND {key} < ? AND row_id > ? ORDER BY row_id LIMIT {PAGE}"
    )
    last = 0
    while ids := [int(r[0]) for r in await snap.fetch(ids_sql, table, since, snap.mark, last)]:
        if snap.postgres:
            found = dict(await _rows(snap, _select_rows(snap, table, "t.id = ANY(?)"), ids))
        else:
            marks = ",".join("?" * len(ids))
            found = dict(await _rows(snap, _select_rows(snap, table, f"t.id IN ({marks})"), *ids))
        for row_id in ids:
            data = found.get(row_id)
            if data is None:
                writer.write_line(b'{"op":"delete","id":%d}' % row_id)
            else:
                writer.write_line(b'{"op":"put","row":' + data + b"}")
        last = ids[-1]
    return int(count)


async def _purge(postgres: bool, mark: int) -> None:
    """Changes below the newest set's mark are in it; the log keeps what follows. On
    SQLite the highest entry stays, so a reused rowid can never fall below the mark."""
    if postgres:
        await EscrowChange.delete().where(EscrowChange.xid < mark).run()
    else:
        top = (
            await EscrowChange.select(EscrowChange.id)
            .order_by(EscrowChange.id, ascending=False)
            .first()
            .run()
        )
        if top:
            await (
                EscrowChange.delete()
                .where((EscrowChange.id < mark) & (EscrowChange.id < top["id"]))
                .run()
            )
