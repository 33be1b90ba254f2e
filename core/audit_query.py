"""Reading the audit log: a tenant's own entries (its console), or every entry (staff),
filtered by action, actor and date range, newest first, a bounded page at a time.

A tenant's query runs in its own transaction and names its tenant (row-level security
on PostgreSQL holds it to its rows as well); only staff read across tenants.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from core.errors import InvalidValue
from core.tables import AuditLog
from core.tenancy import cross_tenant, tenant_transaction

PAGE = 50
MAX_CSV_ROWS = 10_000
STAFF = None  # the tenant_id that means "every tenant" (staff only)


@dataclass(frozen=True)
class AuditFilter:
    action: str = ""  # a prefix: "login" finds login and login.failed
    actor: str = ""  # a part of the actor: "key:" finds every API key's entries
    since: date | None = None
    until: date | None = None  # inclusive

    @classmethod
    def parse(cls, params: Any) -> AuditFilter:
        """From query parameters; InvalidValue naming the bad one."""
        action = str(params.get("action") or "").strip()
        actor = str(params.get("actor") or "").strip()
        if len(action) > 64:
            raise InvalidValue("action: at most 64 characters", field="action")
        if len(actor) > 255:
            raise InvalidValue("actor: at most 255 characters", field="actor")
        days: list[date | None] = []
        for name in ("from", "to"):
            text = str(params.get(name) or "").strip()
            try:
                days.append(date.fromisoformat(text) if text else None)
            except ValueError:
                raise InvalidValue(f"{name}: a date like 2026-12-01", field=name) from None
        return cls(action=action, actor=actor, since=days[0], until=days[1])

    def query(self) -> dict[str, str]:
        out = {"action": self.action, "actor": self.actor}
        out["from"] = self.since.isoformat() if self.since else ""
        out["to"] = self.until.isoformat() if self.until else ""
        return {k: v for k, v in out.items() if v}


def _like(text: str) -> str:
    # No wildcards of the caller's own ('_' still matches one character: over-matching a
    # filter is harmless, and LIKE has no portable escape between SQLite and PostgreSQL).
    return text.replace("%", "")


def _where(tenant_id: int | None, f: AuditFilter, before: int | None) -> Any:
    where: Any = AuditLog.id > 0
    if tenant_id is not None:
        where &= AuditLog.tenant_id == tenant_id
    if before is not None:
        where &= AuditLog.id < before
    if f.action:
        where &= AuditLog.action.like(_like(f.action) + "%")
    if f.actor:
        where &= AuditLog.actor.like("%" + _like(f.actor) + "%")
    if f.since:
        where &= AuditLog.created_at >= datetime.combine(f.since, time(), UTC)
    if f.until:
        where &= AuditLog.created_at < datetime.combine(f.until + timedelta(days=1), time(), UTC)
    return where


async def entries(
    tenant_id: int | None, f: AuditFilter, *, before: int | None = None, limit: int = PAGE
) -> list[dict[str, Any]]:
    """Entries newest first: the tenant's, or every tenant's for ``STAFF``."""
    limit = max(1, min(limit, MAX_CSV_ROWS))
    columns = (AuditLog.id, AuditLog.tenant_id, AuditLog.created_at, AuditLog.actor,
               AuditLog.action, AuditLog.target, AuditLog.detail)  # fmt: skip
    query = (
        AuditLog.select(*columns)
        .where(_where(tenant_id, f, before))
        .order_by(AuditLog.id, ascending=False)
        .limit(limit)
    )
    scope = cross_tenant("staff", write=False) if tenant_id is None else None
    async with scope or tenant_transaction(tenant_id or 0, write=False):
        return list(await query.run())


CSV_HEADER = ["id", "created_at", "tenant_id", "actor", "action", "target", "detail"]


def csv_row(e: dict[str, Any]) -> list[Any]:
    return [e["id"], e["created_at"].isoformat(), e["tenant_id"] or "", e["actor"], e["action"],
            e["target"], e["detail"]]  # fmt: skip
