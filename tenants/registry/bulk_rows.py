"""Reading bulk uploads: numbered data rows of NDJSON or CSV, each a handle and values.

Row formats. NDJSON: ``{"handle": ..., "values": [...], "templateVersion": ...}`` per
line. CSV: a header row with ``handle`` and value columns named ``TYPE`` (index = column
position) or ``INDEX:TYPE`` (``2000:model``); ``templateVersion`` goes to index 1001.

A row that cannot be read carries its error instead of raising, so one bad line fails
alone and keeps its row number in the results.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import InvalidValue

MAX_ROWS = 1_000_000
FORMATS = ("ndjson", "csv")


@dataclass(frozen=True, slots=True)
class Row:
    number: int  # 1-based among data rows
    handle: str
    body: Any
    error: str = ""


def _csv_columns(header: list[str]) -> list[tuple[int, str] | None]:
    columns: list[tuple[int, str] | None] = []
    for position, name in enumerate(header):
        name = name.strip()
        if position == 0:
            if name.lower() != "handle":
                raise InvalidValue("the first CSV column must be 'handle'", field="csv")
            columns.append(None)
            continue
        index_text, sep, vtype = name.partition(":")
        if name == "templateVersion":
            columns.append((1001, "templateVersion"))
        elif sep and index_text.isdigit() and vtype:
            columns.append((int(index_text), vtype))
        elif name and not sep:
            columns.append((position, name))
        else:
            raise InvalidValue(f"CSV column {position + 1}: {name!r} is not TYPE or INDEX:TYPE")
    return columns


def iter_rows(path: Path, fmt: str) -> Iterator[Row]:
    """Data rows of an upload, numbered from 1; a bad row carries its error, not raises."""
    with open(path, encoding="utf-8", newline="") as fh:
        if fmt == "csv":
            reader = csv.reader(fh)
            columns = _csv_columns(next(reader, ["handle"]))
            number = 0
            for cells in reader:
                if not any(c.strip() for c in cells):
                    continue
                number += 1
                if len(cells) != len(columns):
                    yield Row(
                        number,
                        cells[0] if cells else "",
                        None,
                        f"row has {len(cells)} cells, the header has {len(columns)}",
                    )
                    continue
                values = [
                    {"index": col[0], "type": col[1], "data": cell}
                    for col, cell in zip(columns, cells, strict=True)
                    if col is not None and cell != ""
                ]
                yield Row(number, cells[0].strip(), values)
            return
        number = 0
        for line in fh:
            if not line.strip():
                continue
            number += 1
            try:
                doc = json.loads(line)
            except ValueError as exc:
                yield Row(number, "", None, f"not valid JSON: {exc}")
                continue
            if not isinstance(doc, dict) or not isinstance(doc.get("handle"), str):
                yield Row(number, "", None, 'each line needs {"handle": ..., "values": [...]}')
                continue
            given: Any = doc.get("values", doc.get("value", []))
            if doc.get("templateVersion") and isinstance(given, list):
                given = [
                    *given,
                    {"index": 1001, "type": "templateVersion", "data": str(doc["templateVersion"])},
                ]
            yield Row(number, doc["handle"], given)


def count_rows(path: Path, fmt: str) -> int:
    total = 0
    for _ in iter_rows(path, fmt):
        total += 1
        if total > MAX_ROWS:
            raise InvalidValue(f"a bulk job takes at most {MAX_ROWS:,} rows", field="file")
    return total
