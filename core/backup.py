"""Whole-node backups and restores of the database (``idnest backup`` / ``idnest restore``).

One file per backup, of the profile's own kind:
- embedded (SQLite): a consistent copy taken online with SQLite's backup API (writers wait
  for at most one page step; readers never), checked with ``PRAGMA integrity_check``;
- PostgreSQL: ``pg_dump --format=custom`` of the node's database, read back with
  ``pg_restore --list`` before it is kept.

A restore replaces the node's data with the file's in one step: SQLite's backup API into
the live file (one transaction), or ``pg_restore --clean --single-transaction`` (a failed
restore leaves the database as it was). The schema is then brought up to date
(``core.migrate``), so a backup from an older release restores into a newer one.

Secrets are not in the database and so not in a backup: the secret key, the PII keyring,
the wire key and the escrow key live in the settings or ``var/`` and are backed up on
their own (docs/operations.md). The backup is written beside its target and renamed into
place, so a killed backup never leaves a file that looks whole.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from core.db import sqlite_path
from core.errors import InvalidValue
from core.settings import Settings

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"
# Pages copied per step of an online SQLite backup: writers wait at most one step.
_PAGES_PER_STEP = 4096
_PG_TIMEOUT = 6 * 3600


@dataclass(frozen=True, slots=True)
class BackupResult:
    path: Path
    kind: str  # "sqlite" or "pg_dump"
    size: int
    seconds: float

    def summary(self) -> str:
        return f"{self.kind} backup {self.path} ({self.size:,} bytes, {self.seconds:.1f} s)"


def _owner_url(settings: Settings) -> str:
    # pg_dump reads every tenant's rows: the application's role is under row-level
    # security (pg_dump refuses it), so the owner's URL is used when there is one.
    return settings.migration_database_url or settings.database_url


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise InvalidValue(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return found


def _run(args: list[str]) -> None:
    # The arguments are ours: the tool found on PATH, our file names and the settings URL.
    proc = subprocess.run(args, capture_output=True, text=True, timeout=_PG_TIMEOUT)  # noqa: S603
    if proc.returncode != 0:
        raise InvalidValue(f"{Path(args[0]).name} failed: {proc.stderr.strip()[-2000:]}")


def backup(settings: Settings, out: Path) -> BackupResult:
    """Write a backup of the whole node to ``out`` (a file; its folder must exist)."""
    out = out.resolve()
    if out.is_dir():
        raise InvalidValue(f"{out} is a folder; name the backup file")
    if not out.parent.is_dir():
        raise InvalidValue(f"{out.parent} does not exist")
    partial = out.with_name(f".{out.name}.partial")
    started = time.monotonic()
    try:
        if settings.embedded:
            kind = "sqlite"
            _sqlite_backup(sqlite_path(settings.effective_database_url), partial)
        else:
            kind = "pg_dump"
            dump = [_tool("pg_dump"), "--format=custom", "--file", str(partial)]
            _run([*dump, "--dbname", _owner_url(settings)])
            _run([_tool("pg_restore"), "--list", str(partial)])
        with open(partial, "rb") as f:
            os.fsync(f.fileno())
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(out, kind, out.stat().st_size, time.monotonic() - started)


def _sqlite_backup(live: Path, target: Path) -> None:
    if not live.exists():
        raise InvalidValue(f"there is no database at {live} yet")
    target.unlink(missing_ok=True)
    src = sqlite3.connect(live)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst, pages=_PAGES_PER_STEP)
        # The copy is a plain rollback-journal file, readable without its -wal.
        dst.execute("PRAGMA journal_mode=DELETE")
        check = dst.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise InvalidValue(f"the copy failed its integrity check: {check}")
    finally:
        dst.close()
        src.close()


def kind_of(path: Path) -> str:
    """``sqlite`` or ``pg_dump`` by the file's first bytes; InvalidValue otherwise."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise InvalidValue(f"cannot read {path}: {exc.strerror}") from None
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_MAGIC):
        return "pg_dump"
    raise InvalidValue(f"{path} is not an idnest backup (neither SQLite nor pg_dump custom)")


def restore(settings: Settings, src: Path) -> str:
    """Replace the node's database with the backup's; returns the backup's kind. The
    schema is migrated afterwards by the caller (``core.migrate``)."""
    kind = kind_of(src)
    want = "sqlite" if settings.embedded else "pg_dump"
    if kind != want:
        raise InvalidValue(
            f"{src} is a {kind} backup; this node runs on "
            f"{'SQLite' if settings.embedded else 'PostgreSQL'} and restores {want} backups"
        )
    if kind == "sqlite":
        _sqlite_restore(src, sqlite_path(settings.effective_database_url))
    else:
        restore_cmd = [_tool("pg_restore"), "--clean", "--if-exists", "--single-transaction"]
        _run([*restore_cmd, "--exit-on-error", "--dbname", _owner_url(settings), str(src)])
    return kind


def _sqlite_restore(src: Path, live: Path) -> None:
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    try:
        check = source.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise InvalidValue(f"{src} failed its integrity check: {check}")
        live.parent.mkdir(parents=True, exist_ok=True)
        target = sqlite3.connect(live, timeout=30)
        try:
            # One write transaction on the live file: other connections see the old
            # database or the restored one, never a mixture.
            source.backup(target)
            target.execute("PRAGMA journal_mode=WAL")
        finally:
            target.close()
    finally:
        source.close()
