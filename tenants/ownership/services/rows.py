"""How a row of a declared tenant table becomes a line of the archive, and back.

Generic over core/tenancy.py: every column but the declared secret ones travels, with
timestamps as RFC 3339 text and JSON columns as JSON. The few tables that need more say
so here: identifiers (values as JSON, ``HS_SECKEY`` values withheld, the derived search
text rebuilt on import) and memberships (the member's e-mail instead of a node user id).
"""

from __future__ import annotations

import functools
from datetime import date, datetime
from typing import Any

import msgspec
from piccolo.columns import JSON, JSONB, Date, ForeignKey, Serial, Timestamp, Timestamptz

from core.identifiers import is_under, parse_handle
from core.tenancy import TENANT_COLUMN, TenantTable, tenant_table
from core.values import SECRET_TYPES, load_values
from tenants.identifiers.services.search import index_text

# What a re-import on another node changes, by design (the manifest lists these).
NODE_SPECIFIC = {
    "manifest": ["created_at", "node", "signing_key"],
    "columns": ["id", TENANT_COLUMN],
    "why": "row ids and the tenant id are allocated by the node that holds the rows",
}
# Columns whose value is derived from the others and rebuilt on import.
# Columns an export leaves out because this node derives them: the audit chain's links
# are this node's (an import appends the entries to its own chain, core/audit.py).
DERIVED = {"identifiers": ("search_text",), "audit_log": ("seq", "prev_hash", "hash")}
_decode_values = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


def exported_columns(table: TenantTable, cls: Any) -> list[Any]:
    drop = set(table.secret_columns) | set(DERIVED.get(table.name, ()))
    return [c for c in cls._meta.columns if c._meta.db_column_name not in drop]


def export_row(table: str, row: dict[str, Any], withheld: dict[str, int]) -> dict[str, Any]:
    if table == "identifiers" and isinstance(row.get("values"), str):
        text = row["values"]
        if "HS_SECKEY" not in text:
            # Stored as canonical JSON already: written into the line as it is.
            row["values"] = msgspec.Raw(text.encode())
            return row
        values = _decode_values(text)
        kept = [v for v in values if v.get("type") not in SECRET_TYPES]
        if len(kept) != len(values):
            withheld["HS_SECKEY"] = withheld.get("HS_SECKEY", 0) + len(values) - len(kept)
        row["values"] = kept
    return row


_PLAIN, _TIME, _DATE, _JSON = range(4)


@functools.cache
def _column_plan(cls: Any) -> tuple[tuple[str, int], ...]:
    """(name, how to convert) of each insertable column, worked out once per table."""
    plan = []
    for col in cls._meta.columns:
        if isinstance(col, Serial):
            continue
        kind = _PLAIN
        if isinstance(col, (Timestamptz, Timestamp)):
            kind = _TIME
        elif isinstance(col, Date):
            kind = _DATE
        elif isinstance(col, (JSON, JSONB)):
            kind = _JSON
        plan.append((col._meta.db_column_name, kind))
    return tuple(plan)


@functools.cache
def _loose_references(cls: Any, parent_key: str) -> tuple[str, ...]:
    """Nullable foreign keys to tenant rows other than the parent: the ids they hold are
    the old node's, so an import leaves them empty rather than wrong."""
    return tuple(
        c._meta.db_column_name
        for c in cls._meta.columns
        if isinstance(c, ForeignKey)
        and c._meta.null
        and c._meta.db_column_name not in (TENANT_COLUMN, parent_key)
        and tenant_table(c._foreign_key_meta.resolved_references._meta.tablename) is not None
    )


@functools.cache
def line_type(table: str, cls: Any) -> Any:
    """What a line of ``table``'s part is decoded as: a plain dict, except for records,
    a million lines in a large tenant. A record's line is a struct whose timestamps
    msgspec parses as it decodes, and whose ``values`` stay the JSON text they are stored
    as: decoded once, typed, for the search text, where a dict cost a decode, an encode
    back to text and a second decode (together half of a 1M-record import's own time).
    A field absent from the line stays UNSET."""
    if table != "identifiers":
        return dict[str, Any]
    fields: list[tuple[str, Any, Any]] = [("id", Any, msgspec.UNSET)]
    for name, kind in _column_plan(cls):
        kind_type: Any = {_TIME: datetime | None, _DATE: date | None}.get(kind, Any)
        if name == "values":
            kind_type = msgspec.Raw
        fields.append((name, kind_type | msgspec.UnsetType, msgspec.UNSET))
    return msgspec.defstruct("RecordLine", fields, forbid_unknown_fields=False)


def _converted(row: dict[str, Any], cls: Any) -> dict[str, Any]:
    """A decoded line's insertable columns, converted to their column types."""
    out: dict[str, Any] = {}
    for name, kind in _column_plan(cls):
        if name not in row:
            continue
        value = row[name]
        if kind == _TIME and isinstance(value, str):
            value = datetime.fromisoformat(value)
        elif kind == _DATE and isinstance(value, str):
            value = datetime.fromisoformat(value).date()
        elif kind == _JSON and not isinstance(value, str):
            value = _encode(value).decode()
        out[name] = value
    return out


def import_row(
    table: TenantTable, cls: Any, line: Any, tenant: tuple[int, str], ids: dict[str, dict]
) -> dict[str, Any]:
    """A line of the archive (as ``line_type`` decodes it) as the values to insert for
    the new tenant ``(id, prefix)`` (no ``id``). Raises ValueError for a record not
    under the tenant's prefix."""
    tenant_id, prefix = tenant
    if isinstance(line, dict):
        row, out = line, _converted(line, cls)
    else:  # a struct of line_type's: its columns were converted as it was decoded
        row = msgspec.structs.asdict(line)
        out = {k: v for k, v in row.items() if v is not msgspec.UNSET}
        out.pop("id", None)
    out[TENANT_COLUMN] = tenant_id
    for secret in table.secret_columns:
        out[secret] = "!"  # never a valid hash: the credential must be issued again
    for name in _loose_references(cls, table.parent_key):
        out[name] = None  # another row's id on the old node (an invoice's correction)
    if table.parent and table.parent_key and table.parent_key in out:
        out[table.parent_key] = ids.get(table.parent, {}).get(out[table.parent_key], 0)
    if table.name == "identifiers":
        out["handle_key"] = _own_key(out.get("handle"), prefix)
        stored = row.get("values", msgspec.UNSET)
        if stored is msgspec.UNSET:
            text = b"[]"
        elif isinstance(stored, msgspec.Raw):
            text = bytes(stored)
        else:
            text = _encode(stored)
        out["values"] = text.decode()
        # Typed: a value that is not a valid handle value refuses the import here.
        out["search_text"] = index_text(out["handle_key"], load_values(text))
    return out


def _own_key(handle: Any, prefix: str) -> str:
    """A record's key, derived from its handle rather than taken from the line, once the
    handle is checked to be under the tenant's prefix, whatever the archive says (a
    signed archive is still refused a name of another tenant)."""
    if not isinstance(handle, str):
        raise ValueError(f"a record has no handle ({handle!r})")
    parsed = parse_handle(handle)
    if not is_under(parsed.prefix, prefix):
        raise ValueError(f"record {handle!r} is not under the tenant's prefix {prefix}")
    return parsed.key


def foreign_keys(cls: Any) -> list[str]:
    """Foreign-key columns other than the tenant's (a node user, say)."""
    return [
        c._meta.db_column_name
        for c in cls._meta.columns
        if isinstance(c, ForeignKey) and c._meta.db_column_name != TENANT_COLUMN
    ]
