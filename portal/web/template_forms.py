"""The template editor as plain HTML form fields, and what changed between two versions.

Both consoles (staff for node templates, tenants for their own) edit items as a table of
form fields, one row per item: ``name_N``, ``idtype_N``, ``idindex_N``, ``required_N``,
``state_N``, ``type_N``, ``min_N``, ``max_N``, ``enum_N``. A row left empty is ignored,
which is also how a user would try to remove an item: the service then refuses, and the
page shows its message with every row as typed. Validation is the service's own
(``template_items.parse_item``); running it per row here only lets the page put the
message next to the row it is about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from litestar.exceptions import NotFoundException

from core.errors import IdnestError, InvalidValue
from tenants.templates.services.items import ITEM_TYPES, Item, parse_item
from tenants.templates.services.templates import Template

MAX_ROWS = 500
BLANK_ROWS = 2
NODE_KINDS = ("core", "industry")
INDUSTRY_FIELDS = ("industryCategory", "industrySpecific", "industryTrade", "industrySubclass")
_ENUM_SPLIT = re.compile(r"[,，、\n]")
_TEXT_KEYS = ("name", "id_type", "index", "min", "max", "enum")


def item_row(item: Item) -> dict[str, Any]:
    return {
        "name": item.name,
        "id_type": item.id_type,
        "index": str(item.index),
        "required": item.required,
        "state": str(item.state),
        "kind": item.kind,
        "min": "" if item.min_length is None else str(item.min_length),
        "max": "" if item.max_length is None else str(item.max_length),
        "enum": ", ".join(item.enum),
    }


def blank_row() -> dict[str, Any]:
    return {k: "" for k in _TEXT_KEYS} | {"required": False, "state": "1", "kind": "string"}


def with_blanks(rows: list[dict[str, Any]], n: int = BLANK_ROWS) -> list[dict[str, Any]]:
    return rows + [blank_row() for _ in range(n)]


def is_blank(row: dict[str, Any]) -> bool:
    return not any(str(row[k]).strip() for k in _TEXT_KEYS)


def read_rows(form: Any) -> list[dict[str, Any]]:
    """The item rows exactly as typed, so a refused form comes back unchanged."""
    try:
        count = min(max(int(str(form.get("rows") or "0")), 0), MAX_ROWS)
    except ValueError:
        count = 0

    def text(name: str, i: int) -> str:
        return str(form.get(f"{name}_{i}") or "")

    return [
        {
            "name": text("name", i),
            "id_type": text("idtype", i),
            "index": text("idindex", i).strip(),
            "required": form.get(f"required_{i}") == "1",
            "state": text("state", i) or "1",
            "kind": text("type", i) or "string",
            "min": text("min", i).strip(),
            "max": text("max", i).strip(),
            "enum": text("enum", i),
        }
        for i in range(count)
    ]


def _number(raw: str) -> Any:
    """An int when it is one; otherwise the text, so the service's message quotes it."""
    try:
        return int(raw)
    except ValueError:
        return raw


def row_item(row: dict[str, Any]) -> dict[str, Any]:
    """One row as the JSON item the service (and the SNMS API) takes."""
    meta: dict[str, Any] = {"type": row["kind"]}
    for key, name in (("min", "minLength"), ("max", "maxLength")):
        if row[key]:
            meta[name] = _number(row[key])
    enum = [e.strip() for e in _ENUM_SPLIT.split(row["enum"]) if e.strip()]
    if enum:
        meta["enum"] = enum
    return {
        "name": row["name"].strip(),
        "idType": row["id_type"].strip() or row["name"].strip(),
        "idIndex": _number(row["index"]) if row["index"] else None,
        "required": row["required"],
        "state": _number(row["state"]),
        "metadata": meta,
    }


def items_of(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """The non-empty rows as items, and an error message per row number that is wrong."""
    items: list[dict[str, Any]] = []
    errors: dict[int, str] = {}
    seen: dict[int, str] = {}
    for n, row in enumerate(rows):
        if is_blank(row):
            continue
        item = row_item(row)
        items.append(item)
        try:
            parsed = parse_item(item, n + 1)
        except InvalidValue as exc:
            errors[n] = exc.detail
            continue
        if parsed.index in seen:
            errors[n] = f"idIndex {parsed.index} is also {seen[parsed.index]!r}"
        seen.setdefault(parsed.index, parsed.name)
    return items, errors


def header_of(form: Any, *, node: bool) -> dict[str, str]:
    """Name, and for node templates kind, carrier type and industry levels, as typed."""
    keys = ("name",) + (("kind", "type", *INDUSTRY_FIELDS) if node else ())
    return {k: str(form.get(k) or "").strip() for k in keys}


def body_of(header: dict[str, str], items: list[dict[str, Any]], extends: str) -> dict[str, Any]:
    body: dict[str, Any] = {"items": items}
    for key, value in header.items():
        if key == "type":
            if value:  # else the service's default: the base's, or 2
                body["type"] = _number(value)
        elif key != "kind":
            body[key] = value
    if extends:
        body["extends"] = extends
    return body


def header_from(t: Template) -> dict[str, str]:
    return {
        "name": t.name,
        "kind": t.kind,
        "type": str(t.carrier_type),
        **dict(zip(INDUSTRY_FIELDS, t.industry, strict=True)),
    }


def own_items(t: Template, base: Template | None) -> list[Item]:
    """A tenant template stores its base's items too; the editor shows only the tenant's
    own (and base items it restated differently, e.g. disabled for itself)."""
    inherited = set(base.items) if base else set()
    return [i for i in t.items if i not in inherited]


_ITEM_FIELDS = (
    ("name", "name"),
    ("id_type", "idType"),
    ("required", "required"),
    ("kind", "type"),
    ("min_length", "minLength"),
    ("max_length", "maxLength"),
    ("enum", "enum"),
)


@dataclass
class Change:
    what: str  # added, disabled, enabled, changed
    item: Item
    fields: list[str] = field(default_factory=list)


@dataclass
class Changes:
    header: list[str]
    items: list[Change]


def changes(old: Template | None, new: Template) -> Changes | None:
    """What ``new`` changed against the version before it (None for a first version)."""
    if old is None:
        return None
    header = [
        label
        for label, a, b in (
            ("name", old.name, new.name),
            ("industry", old.industry, new.industry),
            ("type", old.carrier_type, new.carrier_type),
            ("extends", old.extends, new.extends),
        )
        if a != b
    ]
    before = {i.index: i for i in old.items}
    out = []
    for item in new.items:
        prev = before.get(item.index)
        if prev is None:
            out.append(Change("added", item))
            continue
        if prev.state != item.state:
            out.append(Change("enabled" if item.state else "disabled", item))
        fields = [
            label for attr, label in _ITEM_FIELDS if getattr(prev, attr) != getattr(item, attr)
        ]
        if fields:
            out.append(Change("changed", item, fields))
    return Changes(header, out)


def version_of(raw: str | None) -> int | None:
    """``?v=`` as a version number; anything else is None (the page answers 404)."""
    return int(raw) if raw and raw.isascii() and raw.isdigit() and len(raw) < 10 else None


def pick_version(history: list[Template], raw: str | None) -> tuple[Template, Changes | None]:
    """The version asked for by ``?v=`` (the latest without it) and what it changed."""
    if raw is None:
        chosen = len(history) - 1
    else:
        number = version_of(raw)
        chosen = next((n for n, t in enumerate(history) if t.version == number), -1)
        if chosen < 0:
            raise NotFoundException()
    return history[chosen], changes(history[chosen - 1] if chosen else None, history[chosen])


CONTEXT = {"item_types": ITEM_TYPES, "node_kinds": NODE_KINDS}


def refusal(exc: IdnestError, header_fields: tuple[str, ...], described: str) -> dict[str, Any]:
    """How an editor page shows a save the service refused: 409 for a stale edit, else
    400; the message; and the error beside the header field it names, if any."""
    field = exc.field if exc.field in header_fields else ""
    return {
        "status": 409 if exc.http_status == 409 else 400,
        "error": described,
        "errors": {field: exc.detail} if field else {},
    }
