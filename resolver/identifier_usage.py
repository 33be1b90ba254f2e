"""Usage feedback (使用情况反馈): one identifier's resolutions per Asia/Shanghai day.

Read from the resolution log (resolver.observability: every resolution at every door,
buffered in memory and written in batches once per flush interval), so it costs the
doors nothing more and never a write per resolution. Counts lag by at most one flush
interval, cover the log's retention (``IDNEST_RESOLUTION_LOG_RETENTION_DAYS``), and are
empty where the log is turned off. Only the identifier's own tenant may read them: the
handle must be under the caller's prefix and registered by its tenant.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

import msgspec
from litestar import Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from piccolo.querystring import QueryString

from core import db
from core.auth import Principal
from core.errors import HandleNotFound
from core.identifiers import fold, parse_handle
from core.limits import bounded_int
from core.openapi import ok
from core.tenancy import tenant_transaction
from core.usage import SHANGHAI, shanghai_day
from tenants.identifiers.schemas import IdentifierUsage
from tenants.identifiers.services.records import check_served, require_scope
from tenants.identifiers.tables import Identifier

MAX_DAYS = 180
_json = msgspec.json.Encoder()
# Asia/Shanghai has kept UTC+8 without daylight saving since 1991: a fixed shift groups
# by its days on both engines.
_DAY = {
    "postgres": "to_char(at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD')",
    "sqlite": "date(at, '+8 hours')",
}
_SQL = (
    "SELECT {day} AS day, count(*) AS resolutions, "
    "sum(CASE WHEN result = 'ok' THEN 1 ELSE 0 END) AS ok "
    "FROM resolution_log WHERE identifier IN ({{}}, {{}}) AND at >= {{}} GROUP BY 1 ORDER BY 1"
)


async def usage_by_day(
    principal: Principal | None, handle_text: str, days: int, *, today: date | None = None
) -> dict[str, Any]:
    """The identifier's resolutions on each of the last ``days`` Shanghai days (today
    included), zeros filled in, oldest first."""
    handle = parse_handle(handle_text)
    check_served(handle)
    principal = require_scope(principal, "read", handle)
    assert principal.tenant_id is not None
    today = today or shanghai_day(datetime.now(UTC))
    first = today - timedelta(days=days - 1)
    since = datetime(first.year, first.month, first.day, tzinfo=SHANGHAI).astimezone(UTC)
    engine = "postgres" if isinstance(db.engine(), db.PostgresEngine) else "sqlite"
    async with tenant_transaction(principal.tenant_id, write=False):
        mine = (Identifier.tenant_id == principal.tenant_id) & (Identifier.handle_key == handle.key)
        row = await Identifier.select(Identifier.handle).where(mine).first().run()
        if row is None:
            raise HandleNotFound(f"handle {handle.text} does not exist", handle=handle.text)
        stored = row["handle"]
        sql = _SQL.format(day=_DAY[engine])
        found = await db.engine().run_querystring(QueryString(sql, stored, fold(stored), since))
    counts = {str(r["day"]): (int(r["resolutions"]), int(r["ok"] or 0)) for r in found}
    by_day = []
    for n in range(days):
        day = (first + timedelta(days=n)).isoformat()
        total, good = counts.get(day, (0, 0))
        by_day.append({"day": day, "resolutions": total, "ok": good})
    return {
        "handle": stored,
        "days": days,
        "total": sum(d["resolutions"] for d in by_day),
        "byDay": by_day,
    }


@get(
    "/api/usage/{handle:path}",
    tags=["Registration"],
    summary="Resolutions of one of your handles per day (使用情况反馈)",
    description=f"Asia/Shanghai days, today included; days is 1 to {MAX_DAYS} (default 30). "
    "From the resolution log: behind by at most one flush interval.",
    responses=ok(IdentifierUsage),
)
async def handle_usage(
    principal: NamedDependency[Principal | None],
    handle: FromPath[str],
    days: Annotated[str | None, QueryParameter(name="days", required=False)] = None,
) -> Response[bytes]:
    n = bounded_int(days, field="days", low=1, high=MAX_DAYS, default=30)
    answer = await usage_by_day(principal, handle.lstrip("/"), n)
    return Response(content=_json.encode(answer), media_type="application/json")


ROUTES = [handle_usage]
