"""Rebuilding a node from its escrow alone: the newest FULL and the DIFFs that follow it.

Everything is checked before anything is written: each manifest's MAC (the escrow key)
and node signature, the chain (each DIFF names the set it follows; a gap is refused),
and every file's SHA-256. Then one transaction replaces whatever the empty node has in
the escrowed tables (the seeded node templates) with the FULL and applies each DIFF: its
tombstones first, children before parents, then its rows, parents first. A failure
anywhere rolls it all back. The node must have no tenants: a restore never merges.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import changelog
from core.changelog import Snapshot
from core.settings import Settings
from core.tenancy import escrow_tables
from tenants.escrow.services.sealed import (
    EscrowRefused,
    check_files,
    check_manifest,
    escrow_key,
    read_lines,
)
from tenants.escrow.services.sets import exclusive

BATCH = 1000


@dataclass
class Restored:
    sets: list[str]
    rows: dict[str, int] = field(default_factory=dict)
    node: dict[str, Any] = field(default_factory=dict)


def chain(directory: Path, key: bytes, public_key: str | None = None) -> list[tuple[Path, dict]]:
    """The newest FULL in ``directory`` and its DIFFs in order, each one verified."""
    found = []
    for path in sorted(p for p in directory.iterdir() if p.is_dir() and p.name[:1] != "."):
        found.append((path, check_manifest(path, key, public_key)))
    fulls = [f for f in found if f[1]["kind"] == "full"]
    if not fulls:
        raise EscrowRefused(f"no FULL escrow set in {directory}")
    picked = [fulls[-1]]
    by_base = {m["base"]: (p, m) for p, m in found if m["kind"] == "diff"}
    while (nxt := by_base.get(picked[-1][1]["set"])) is not None:
        picked.append(nxt)
    later = [m["set"] for _, m in found if m["set"] > picked[-1][1]["set"]]
    if later:
        raise EscrowRefused(f"set {later[0]} does not follow {picked[-1][1]['set']}: "
                            "a set between them is missing")  # fmt: skip
    for path, manifest in picked:
        check_files(path, manifest)
    return picked


async def restore(settings: Settings, directory: Path, *,
                  public_key: str | None = None) -> Restored:  # fmt: skip
    key = escrow_key(settings)
    picked = chain(Path(directory), key, public_key)
    profile = "postgres" if not settings.effective_database_url.startswith("sqlite:") else "sqlite"
    if picked[0][1]["profile"] != profile:
        raise EscrowRefused(f"the sets were written by a {picked[0][1]['profile']} node; "
                            f"this node is {profile}")  # fmt: skip
    done = Restored([m["set"] for _, m in picked])
    async with exclusive(settings), changelog.snapshot(write=True) as snap:
        if (await snap.fetch("SELECT count(*) FROM tenants"))[0][0]:
            raise EscrowRefused("this node has tenants: restore only into an empty database")
        for table in reversed(escrow_tables()):
            await snap.execute(f'DELETE FROM "{table}"')  # noqa: S608 - declared names
        for path, manifest in picked:
            for line in read_lines(path / "node.ndjson", key, manifest["set"]):
                done.node = json.loads(line)
            await _apply(snap, path, manifest, key, done)
        # The node's own log starts afresh: its first set will be a FULL.
        await snap.execute("DELETE FROM escrow_changes")
        await snap.execute("DELETE FROM escrow_sets")
        if snap.postgres:
            for table in escrow_tables():
                await snap.execute(
                    f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "  # noqa: S608
                    f'coalesce(max(id), 0) + 1, false) FROM "{table}"'
                )
    return done


async def _apply(snap: Snapshot, path: Path, manifest: dict[str, Any], key: bytes,
                 done: Restored) -> None:  # fmt: skip
    tables = [t for t in escrow_tables() if t in manifest["tables"]]
    for table in reversed(tables):
        ids = []
        for line in read_lines(path / f"{table}.ndjson", key, manifest["set"]):
            item = json.loads(line)
            if item["op"] == "delete":
                ids.append(int(item["id"]))
        for start in range(0, len(ids), BATCH):
            part = ids[start : start + BATCH]
            marks = ",".join("?" * len(part))
            await snap.execute(f'DELETE FROM "{table}" WHERE id IN ({marks})', *part)  # noqa: S608
    for table in tables:
        batch: list[dict[str, Any]] = []
        for line in read_lines(path / f"{table}.ndjson", key, manifest["set"]):
            item = json.loads(line)
            if item["op"] == "put":
                batch.append(item["row"])
            if len(batch) >= BATCH:
                await _put(snap, table, batch)
                batch = []
        if batch:
            await _put(snap, table, batch)
        done.rows[table] = done.rows.get(table, 0) + sum(
            f["rows"] for f in manifest["files"] if f["table"] == table
        )


async def _put(snap: Snapshot, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert or replace rows by id, as they were on the escrowed node."""
    columns = list(rows[0])
    quoted = ", ".join(f'"{c}"' for c in columns)
    update = ", ".join(f'"{c}" = excluded."{c}"' for c in columns if c != "id")
    if snap.postgres:
        await snap.execute(
            f'INSERT INTO "{table}" ({quoted}) SELECT {quoted} FROM '  # noqa: S608
            f'json_populate_recordset(NULL::"{table}", ?::json) '
            f"ON CONFLICT (id) DO UPDATE SET {update}",
            json.dumps(rows),
        )
        return
    marks = ", ".join("?" * len(columns))
    await snap.executemany(
        f'INSERT INTO "{table}" ({quoted}) VALUES ({marks}) '  # noqa: S608
        f"ON CONFLICT (id) DO UPDATE SET {update}",
        [[r.get(c) for c in columns] for r in rows],
    )
