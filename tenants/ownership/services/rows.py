"""How a row of a declared tenant table becomes a line of the archive, and back.

Generic over core/tenancy.py: every column but the declared secret ones travels, with
timestamps as RFC 3339 text and JSON columns as JSON. The few tables that need more say
so here: identifiers (values as JSON, ``HS_SECKEY`` values withheld, the derived search
text rebuilt on import) and memberships (the member's e-mail instead of a node user id).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from piccolo.columns import JSON, JSONB, Date, ForeignKey, Serial, Timestamp, Timestamptz

from core.tenancy import TENANT_COLUMN, TenantTable
from core.values import SECRET_TYPES, load_values

# What a re-import on another node changes, by design (the manifest lists these).
NODE_SPECIFIC = {
    "manifest": ["created_at", "node", "signing_key"],
    "columns": ["id", TENANT_COLUMN],
    "why": "row ids and the tenant id are allocated by the node that holds the rows",
}
# Columns whose value is derived from the others and rebuilt on import.
DERIVED = {"identifiers": ("search_text",)}
_decode_values = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


def exported_columns(table: TenantTable, cls: Any) -> list[Any]:
    drop = set(table.secret_columns) | set(DERIVED.get(table.name, ()))
    return [c for c in cls._meta.columns if c._meta.db_column_name not in drop]


def export_row(table: str, row: dict[str, Any], withheld: dict[str, int]) -> dict[str, Any]:
    if table == "identifiers" and isinstance(row.get("values"), str):
        values = _decode_values(row["values"])
        kept = [v for v in values if v.get("type") not in SECRET_TYPES]
        if len(kept) != len(values):
            withheld["HS_SECKEY"] = withheld.get("HS_SECKEY", 0) + len(values) - len(kept)
        row["values"] = kept
    return row


def _parse_time(value: Any) -> Any:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def import_row(
    table: TenantTable, cls: Any, row: dict[str, Any], tenant_id: int, ids: dict[str, dict]
) -> dict[str, Any]:
    """A row of the archive as the values to insert for the new tenant (no ``id``)."""
    out: dict[str, Any] = {}
    for col in cls._meta.columns:
        name = col._meta.db_column_name
        if isinstance(col, Serial) or name not in row:
            continue
        value = row[name]
        if isinstance(col, (Timestamptz, Timestamp)):
            value = _parse_time(value)
        elif isinstance(col, Date) and isinstance(value, str):
            value = datetime.fromisoformat(value).date()
        elif isinstance(col, (JSON, JSONB)) and not isinstance(value, str):
            value = _encode(value).decode()
        out[name] = value
    out[TENANT_COLUMN] = tenant_id
    for secret in table.secret_columns:
        out[secret] = "!"  # never a valid hash: the credential must be issued again
    if table.parent and table.parent_key and table.parent_key in out:
        out[table.parent_key] = ids.get(table.parent, {}).get(out[table.parent_key], 0)
    if table.name == "identifiers":
        from tenants.identifiers.services.search import index_text

        values_text = _encode(row.get("values", [])).decode()
        out["values"] = values_text
        out["search_text"] = index_text(out["handle_key"], load_values(values_text))
    return out


def foreign_keys(cls: Any) -> list[str]:
    """Foreign-key columns other than the tenant's (a node user, say)."""
    return [
        c._meta.db_column_name
        for c in cls._meta.columns
        if isinstance(c, ForeignKey) and c._meta.db_column_name != TENANT_COLUMN
    ]
