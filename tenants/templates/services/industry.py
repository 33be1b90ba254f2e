"""Industry levels of a template (GB/T 4754-2017, 国民经济行业分类).

A node's industry template names up to four levels: section letter (门类), 2-digit
division (大类), 3-digit group (中类, SNMS ``industryTrade``) and 4-digit class (小类,
``industrySubclass``). The SNMS field names are kept because clients send them.
"""

from __future__ import annotations

from typing import Any

from core.errors import InvalidValue
from core.industries import section_divisions


def check_industry(meta: dict[str, Any]) -> tuple[str, str, str, str]:
    """GB/T 4754-2017 levels: section letter, 2-digit division, 3-digit group (trade) and
    4-digit class (subclass), each under the one before it. Section and division are
    checked against the standard's list; the finer levels by their shape."""
    levels = tuple(
        str(meta.get(k) or "").strip()
        for k in ("industryCategory", "industrySpecific", "industryTrade", "industrySubclass")
    )
    cat, div, trade, sub = levels
    if cat or div:
        known = section_divisions()
        if cat not in {section for section, _d in known}:
            raise InvalidValue(
                f"industryCategory {cat!r} is not a GB/T 4754-2017 section (A-T)",
                field="industryCategory",
            )
        if div and (cat, div) not in known:
            raise InvalidValue(
                f"industry {cat}/{div} is not a GB/T 4754-2017 section/division",
                field="industrySpecific",
            )
    for name, value, parent, digits in (
        ("industryTrade", trade, div, 3),
        ("industrySubclass", sub, trade, 4),
    ):
        if value and not (parent and value.isascii() and value.isdigit() and len(value) == digits):
            raise InvalidValue(
                f"{name} {value!r} must be {digits} digits under a {digits - 1}-digit level",
                field=name,
            )
        if value and not value.startswith(parent):
            raise InvalidValue(f"{name} {value} is not under {parent}", field=name)
    return (cat, div, trade, sub)
