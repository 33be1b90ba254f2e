"""The proxy's HTML view of a record, for people who open a handle in a browser."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from core.values import HandleValue

# HS_ADMIN's 12 permission bits, highest first, as core.values writes them.
ADMIN_PERMISSION_NAMES = (
    "list handles",
    "read values",
    "add admin",
    "remove admin",
    "modify admin",
    "add values",
    "remove values",
    "modify values",
    "delete derived prefix",
    "add derived prefix",
    "delete handle",
    "add handle",
)


def admin_permissions(bits: str) -> list[str]:
    """The names of the permissions an HS_ADMIN value grants."""
    return [name for bit, name in zip(bits, ADMIN_PERMISSION_NAMES, strict=False) if bit == "1"]


_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
_env.filters["admin_permissions"] = admin_permissions


def render_record(handle: str, values: Sequence[HandleValue]) -> str:
    return _env.get_template("record.html").render(handle=handle, values=values)
