"""Handles whose names a browser would read as another's: suffixes with ``.``/``..`` segments.

New ones are refused on every write path (``core.identifiers.check_new_handle``); this
finds the ones registered before the rule, across tenants, for staff to review
(``idnest check names``). Candidates are narrowed in SQL (a segment starting with ``.``
or ``%2e``, or any backslash) and confirmed by the same rule the writes use.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import InvalidHandle
from core.identifiers import dot_segment, parse_handle
from core.tenancy import cross_tenant
from tenants.identifiers.tables import Identifier

MAX_REPORT = 10_000  # rows read per report; more is a finding in itself
_CANDIDATES = (
    "SELECT id, handle, tenant_id FROM identifiers WHERE id > {} AND (handle_key LIKE '%/.%' "
    "OR handle_key LIKE '%/!%2e%' ESCAPE '!' OR handle_key LIKE '%\\%' ESCAPE '!') "
    "ORDER BY id LIMIT 1000"
)


@dataclass(frozen=True)
class MisleadingName:
    handle: str
    tenant_id: int
    segment: str


async def misleading_names(limit: int = MAX_REPORT) -> list[MisleadingName]:
    """Every stored handle whose suffix has a dot segment, oldest first (at most ``limit``)."""
    limit = max(1, min(limit, MAX_REPORT))
    found: list[MisleadingName] = []
    last = 0
    async with cross_tenant("staff"):
        while len(found) < limit:
            rows = await Identifier.raw(_CANDIDATES, last).run()
            if not rows:
                break
            last = rows[-1]["id"]
            for r in rows:
                try:
                    seg = dot_segment(parse_handle(r["handle"]).suffix)
                except InvalidHandle:
                    continue
                if seg is not None:
                    found.append(MisleadingName(r["handle"], r["tenant_id"], seg))
    return found[:limit]
