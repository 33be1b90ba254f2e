"""Staff search of the resolution logs: by identifier or by source, newest first, bounded."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.identifiers import fold
from core.tenancy import cross_tenant
from resolver.observability.tables import ResolutionLogEntry

MAX_PAGE = 200


async def search_log(
    *,
    identifier: str = "",
    source: str = "",
    before: datetime | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Entries for an identifier (exact, ASCII case folded as look-up does) or a source
    address, newest first; ``before`` pages back. At most ``MAX_PAGE`` per page."""
    limit = max(1, min(limit, MAX_PAGE))
    query = ResolutionLogEntry.select().order_by(ResolutionLogEntry.at, ascending=False)
    if identifier:
        wanted = identifier.strip()
        query = query.where(
            (ResolutionLogEntry.identifier == wanted)
            | (ResolutionLogEntry.identifier == fold(wanted))
        )
    if source:
        query = query.where(ResolutionLogEntry.source == source.strip())
    if before is not None:
        query = query.where(ResolutionLogEntry.at < before)
    async with cross_tenant("staff"):
        rows: list[dict[str, Any]] = await query.limit(limit).run()
    return rows
