"""Bounds on every integer a request carries, checked before the number is used.

An unbounded page number overflows the 64-bit OFFSET (a 500); an unbounded row count
makes one request build 10⁸ objects. Query and path parameters take the typed aliases
below (Litestar answers 400 past the bound); numbers from forms, cursors and bodies go
through ``bounded_int``, which refuses a too-long text before converting it.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar.params import PathParameter

from core.errors import InvalidValue

# The highest page number any listing takes: with the largest page size (10,000) the
# offset stays far inside 64 bits, and no real listing is that deep (use a cursor).
MAX_PAGE = 1_000_000
# Row ids are 64-bit (PostgreSQL BIGINT/SERIAL, SQLite INTEGER).
MAX_DB_ID = 2**63 - 1
# Handle value indices and TTLs are 4-byte signed integers on the wire (RFC 3651).
MAX_INDEX = 2**31 - 1

DbId = Annotated[int, PathParameter(ge=1, le=MAX_DB_ID)]
# One item of a repeatable ?index= (Litestar bounds a list's items through their type).
HandleIndex = Annotated[int, msgspec.Meta(ge=0, le=MAX_INDEX)]


def bounded_int(raw: Any, *, field: str, low: int, high: int, default: int | None = None) -> int:
    """``raw`` (text or int) as an int in [low, high]; InvalidValue (400) naming the field
    otherwise. Empty or missing gives ``default`` when there is one."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if default is not None:
            return default
        raise InvalidValue(f"{field} is required", field=field)
    if isinstance(raw, bool):
        raise InvalidValue(f"{field} must be an integer", field=field)
    if isinstance(raw, str):
        text = raw.strip()
        digits = text.lstrip("+-")
        # Longer than the bound's own digits cannot be inside it; int() is never asked
        # to convert thousands of digits.
        if not digits.isascii() or not digits.isdigit() or len(digits) > len(str(high)) + 1:
            raise InvalidValue(
                f"{field} must be an integer from {low} to {high}, got {text[:40]!r}", field=field
            )
        raw = int(text)
    if not isinstance(raw, int):
        raise InvalidValue(f"{field} must be an integer", field=field)
    if not low <= raw <= high:
        raise InvalidValue(f"{field} must be from {low} to {high}, got {raw}", field=field)
    return raw
