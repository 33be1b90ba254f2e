"""Reading bulk uploads: numbered data rows of NDJSON or CSV, each a handle and values.

Row formats. NDJSON: ``{"handle": ..., "values": [...], "templateVersion": ...}`` per
line. CSV: a header row with ``handle`` and value columns named ``TYPE`` (index = column
position) or ``INDEX:TYPE`` (``2000:model``); ``templateVersion`` goes to index 1001.

A row that cannot be read carries its error instead of raising, so one bad line fails
alone and keeps its row number in the results.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import msgspec

from core.errors import InvalidValue

MAX_ROWS = 1_000_000
# An upload's size limit: a million rows of a seven-value template record run ~450 MB.
MAX_UPLOAD_BYTES = 1 << 30
FORMATS = ("ndjson", "csv")
_decode = msgspec.json.Decoder().decode


def xlsx_to_csv(source: Path, target: Path) -> None:
    """The first sheet of a workbook as CSV, in the same column layout as a CSV upload.

    openpyxl's read-only mode streams the sheet, so a large workbook is not held in
    memory as cells. Empty trailing rows are dropped; numbers keep their text form
    (a GTIN typed as a number loses nothing: integers are written without ".0").
    """
    from openpyxl import load_workbook

    # A file object, not a path: openpyxl judges a path by its extension, and uploads
    # are judged by their content.
    with open(source, "rb") as fh:
        try:
            workbook = load_workbook(fh, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many types for a file that is no workbook
            raise InvalidValue(f"the file is not an XLSX workbook: {exc}", field="file") from None
        try:
            sheet = workbook.worksheets[0]
            with open(target, "w", encoding="utf-8", newline="") as out:
                writer = csv.writer(out, lineterminator="\n")
                for cells in sheet.iter_rows(values_only=True):
                    row = ["" if c is None else _cell_text(c) for c in cells]
                    while row and row[-1] == "":
                        row.pop()
                    if row:
                        writer.writerow(row)
        finally:
            workbook.close()


def _cell_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class Row(NamedTuple):  # a NamedTuple: a million-row upload builds a million of them
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
        elif sep and index_text.isascii() and index_text.isdigit() and vtype:
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
        for number, doc, error in ndjson_documents(fh, '{"handle": ..., "values": [...]}'):
            if doc is None:
                yield Row(number, "", None, error)
                continue
            given: Any = doc.get("values", doc.get("value", []))
            if doc.get("templateVersion") and isinstance(given, list):
                given = [
                    *given,
                    {"index": 1001, "type": "templateVersion", "data": str(doc["templateVersion"])},
                ]
            yield Row(number, doc["handle"], given)


def count_rows(path: Path, fmt: str) -> int:
    """Data rows in an upload: what ``iter_rows`` will number. An NDJSON row is a
    non-blank line, read exactly as ``iter_rows`` reads it, so no parsing is needed;
    CSV needs its reader (a quoted cell may hold a newline)."""
    if fmt == "csv":
        return _count(iter_rows(path, fmt))
    with open(path, encoding="utf-8", newline="") as fh:
        return _count(line for line in fh if line.strip())


def _count(rows: Iterator[Any]) -> int:
    total = 0
    for _ in rows:
        total += 1
        if total > MAX_ROWS:
            raise InvalidValue(f"a bulk job takes at most {MAX_ROWS:,} rows", field="file")
    return total


def ndjson_documents(
    lines: Iterable[str], shape: str
) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """Each non-blank line, numbered from 1: ``(number, document, "")`` for an object
    with a string ``handle``, else ``(number, None, the error)`` naming ``shape``."""
    number = 0
    for line in lines:
        if not line.strip():
            continue
        number += 1
        try:
            doc = _decode(line)
        except msgspec.DecodeError as exc:
            yield number, None, f"not valid JSON: {exc}"
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("handle"), str):
            yield number, None, f"each line needs {shape}"
            continue
        yield number, doc, ""


def chunks(path: Path, fmt: str, after: int, size: int) -> Iterator[list[Row]]:
    """The rows after row number ``after``, in lists of ``size`` (a job resumes at its
    cursor)."""
    return chunked(iter_rows(path, fmt), after, size)


def chunked(rows: Iterable[Row], after: int, size: int) -> Iterator[list[Row]]:
    """``rows`` after row number ``after``, in lists of ``size``."""
    chunk: list[Row] = []
    for row in rows:
        if row.number <= after:
            continue
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
