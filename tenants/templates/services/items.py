"""Template items: how one item (标识模板的元数据项) is defined and how a value is checked.

An item has a name, the value type it is stored under (``idType``), an index >= 2000,
whether it is required, a state (1 enabled, 0 disabled) and rules (``metadata``: type,
minLength, maxLength, enum). Every error names the item, so a client knows which field
to fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from core.errors import InvalidValue
from core.limits import MAX_INDEX
from core.values import HandleValue

FIRST_ITEM_INDEX = 2000
ITEM_TYPES = ("string", "int", "number", "date", "datetime", "url", "email", "bool", "enum")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://\S+$")


@dataclass(frozen=True, slots=True)
class Item:
    name: str
    id_type: str
    index: int
    required: bool
    state: int
    kind: str
    min_length: int | None
    max_length: int | None
    enum: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"type": self.kind}
        if self.min_length is not None:
            meta["minLength"] = self.min_length
        if self.max_length is not None:
            meta["maxLength"] = self.max_length
        if self.enum:
            meta["enum"] = list(self.enum)
        return {
            "name": self.name,
            "idType": self.id_type,
            "idIndex": self.index,
            "required": self.required,
            "state": self.state,
            "metadata": meta,
        }


def item_error(where: str, message: str) -> InvalidValue:
    return InvalidValue(f"{where}: {message}", field="items")


def _opt_int(raw: Any, where: str, what: str) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise item_error(where, f"{what} must be a non-negative integer")
    if raw > MAX_INDEX:
        raise item_error(where, f"{what} must be at most {MAX_INDEX}, got {raw}")
    return raw


def parse_item(raw: Any, position: int) -> Item:
    """One item as an SNMS client or staff sends it; errors name the item."""
    if not isinstance(raw, dict):
        raise item_error(f"item {position}", "each item must be an object")
    name = raw.get("name")
    where = f"item {name!r}" if isinstance(name, str) and name else f"item {position}"
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise item_error(where, "name must be 1-255 characters")
    id_type = raw.get("idType", name)
    if not isinstance(id_type, str) or not id_type or len(id_type) > 255:
        raise item_error(where, "idType must be a non-empty string")
    index = raw.get("idIndex")
    if isinstance(index, bool) or not isinstance(index, int) or index < FIRST_ITEM_INDEX:
        raise item_error(where, f"idIndex must be an integer >= {FIRST_ITEM_INDEX}, got {index!r}")
    if index > MAX_INDEX:
        raise item_error(where, f"idIndex must be at most {MAX_INDEX}, got {index}")
    required = raw.get("required", False)
    if required in (0, 1):
        required = bool(required)
    if not isinstance(required, bool):
        raise item_error(where, "required must be true or false")
    state = raw.get("state", 1)
    if state not in (0, 1) or isinstance(state, bool):
        raise item_error(where, "state must be 1 (enabled) or 0 (disabled)")
    meta = raw.get("metadata") or {}
    if not isinstance(meta, dict):
        raise item_error(where, "metadata must be an object")
    kind = meta.get("type", "string")
    if kind not in ITEM_TYPES:
        raise item_error(
            where, f"metadata.type must be one of {', '.join(ITEM_TYPES)}, got {kind!r}"
        )
    low = _opt_int(meta.get("minLength"), where, "minLength")
    high = _opt_int(meta.get("maxLength"), where, "maxLength")
    if low is not None and high is not None and low > high:
        raise item_error(where, "minLength is greater than maxLength")
    enum = meta.get("enum") or []
    if not isinstance(enum, list) or not all(isinstance(e, str) for e in enum):
        raise item_error(where, "metadata.enum must be a list of strings")
    if kind == "enum" and not enum:
        raise item_error(where, "an enum item needs metadata.enum")
    return Item(name.strip(), id_type, index, required, state, kind, low, high, tuple(enum))


def parse_items(raw: Any) -> list[Item]:
    if not isinstance(raw, list):
        raise InvalidValue("items must be a list", field="items")
    items = [parse_item(r, n) for n, r in enumerate(raw, 1)]
    seen: dict[int, str] = {}
    for item in items:
        if item.index in seen:
            raise item_error(
                f"item {item.name!r}", f"idIndex {item.index} is also {seen[item.index]!r}"
            )
        seen[item.index] = item.name
    return sorted(items, key=lambda i: i.index)


def check_value(item: Item, v: HandleValue) -> None:
    where = f"item {item.name!r} (index {item.index})"
    if v.data.format != "string" or not isinstance(v.data.value, str):
        raise InvalidValue(f"{where}: template values are strings", field=item.id_type)
    text = v.data.value
    if item.min_length is not None and len(text) < item.min_length:
        raise InvalidValue(
            f"{where}: at least {item.min_length} characters, got {len(text)}", field=item.id_type
        )
    if item.max_length is not None and len(text) > item.max_length:
        raise InvalidValue(
            f"{where}: at most {item.max_length} characters, got {len(text)}", field=item.id_type
        )
    if not _matches(item, text):
        expected = "one of " + ", ".join(item.enum) if item.enum else f"a {item.kind}"
        raise InvalidValue(f"{where}: {text[:64]!r} is not {expected}", field=item.id_type)


def _matches(item: Item, text: str) -> bool:
    if item.enum and text not in item.enum:
        return False
    try:
        if item.kind == "int":
            int(text)
        elif item.kind == "number":
            float(text)
        elif item.kind == "date":
            date.fromisoformat(text)
        elif item.kind == "datetime":
            datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    if item.kind == "url":
        return bool(_URL.match(text))
    if item.kind == "email":
        return bool(_EMAIL.match(text))
    if item.kind == "bool":
        return text in ("true", "false", "1", "0")
    return True
