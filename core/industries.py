"""GB/T 4754-2017 (国民经济行业分类): the national industry classification's sections
and divisions, read once from the one copy of the standard's table in ``core/data``.

Signup offers the divisions; industry templates are checked against them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DIVISIONS_FILE = Path(__file__).parent / "data" / "gbt4754-2017-divisions.csv"


@dataclass(frozen=True, slots=True)
class Division:
    section: str
    section_zh: str
    section_en: str
    code: str
    name_zh: str


@lru_cache(maxsize=1)
def divisions() -> tuple[Division, ...]:
    with DIVISIONS_FILE.open(encoding="utf-8") as fh:
        return tuple(
            Division(
                r["section"],
                r["section_name_zh"],
                r["section_name_en"],
                r["division"],
                r["division_name_zh"],
            )
            for r in csv.DictReader(fh)
        )


def division_codes() -> frozenset[str]:
    return frozenset(d.code for d in divisions())


@lru_cache(maxsize=1)
def section_divisions() -> frozenset[tuple[str, str]]:
    """Every (section letter, 2-digit division) pair the standard names."""
    return frozenset((d.section, d.code) for d in divisions())
