"""The proxy's HTML view of a record, for people who open a handle in a browser."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from core.values import HandleValue

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


def render_record(handle: str, values: Sequence[HandleValue]) -> str:
    return _env.get_template("record.html").render(handle=handle, values=values)
