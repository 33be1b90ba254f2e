"""Exact and fuzzy search over one tenant's identifiers, and the reverse look-up.

The database narrows (tenant, id cursor, time ranges, a LIKE/ILIKE on the handle or on
the stored values — trigram-indexed on PostgreSQL), then Python decides on the parsed
values, because what matches depends on who asks: a viewer must not find a record
through a value it may not see. Pages are keyset pages on the immutable ``id``, so
concurrent writes never shift, repeat or skip a row already paged past.
"""

from __future__ import annotations

import base64
import logging
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import msgspec
from piccolo.columns.combination import WhereRaw

from core import audit, db
from core.auth import Principal
from core.errors import AuthenticationNeeded, InsufficientPermissions, InvalidValue
from core.identifiers import fold
from core.limits import MAX_DB_ID
from core.tenancy import cross_tenant, tenant_transaction
from core.values import HandleValue, load_values, type_matches, value_to_json
from tenants.grants.services.access import GrantSet, grants_for
from tenants.identifiers.services.visibility import sees_private, visible
from tenants.identifiers.tables import Identifier

log = logging.getLogger("idnest.search")

MAX_LIMIT = 500
_SCAN_ROUNDS = 20
# Handle-system plumbing, not content: administrators, key material, service sites and
# value lists. Keeping key material out of the search index also keeps it out of an
# index that every developer's query walks.
UNSEARCHED_TYPES = frozenset({"HS_ADMIN", "HS_SECKEY", "HS_PUBKEY", "HS_SITE", "HS_VLIST"})


@dataclass(frozen=True, slots=True)
class Query:
    q: str | None = None  # substring of the handle (suffix)
    value: str | None = None  # substring of any value's data
    type: str | None = None  # restrict ``value`` (or alone: has a value of this type)
    attr: tuple[str, str] | None = None  # template attribute (value type, substring)
    template: str | None = None  # declared template code at index 1001
    created_from: datetime | None = None
    created_to: datetime | None = None
    updated_from: datetime | None = None
    updated_to: datetime | None = None
    pattern: str | None = None  # reverse look-up: whole value with * wildcards


@dataclass(frozen=True, slots=True)
class Hit:
    handle: str
    tenant_id: int
    created_at: datetime
    updated_at: datetime
    values: list[HandleValue]

    def to_json(self) -> dict[str, Any]:
        return {
            "handle": self.handle,
            "createdAt": self.created_at.isoformat(),
            "updatedAt": self.updated_at.isoformat(),
            "values": [value_to_json(v) for v in self.values],
        }


@dataclass(frozen=True, slots=True)
class Page:
    hits: list[Hit]
    next_cursor: str | None


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like(column: str, pattern: str) -> WhereRaw:
    op = "ILIKE" if isinstance(db.engine(), db.PostgresEngine) else "LIKE"
    return WhereRaw(f"{column} {op} {{}} ESCAPE '\\'", pattern)


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, number = text.partition(":")
        if kind != "id" or not (number.isascii() and number.isdigit()) or len(number) > 19:
            raise ValueError
        last = int(number)
        if last > MAX_DB_ID:
            raise ValueError
        return last
    except ValueError:
        raise InvalidValue("cursor is not one this server gave out", field="cursor") from None


def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(p) for p in pattern.split("*")), re.I | re.S)


def _value_text(v: HandleValue) -> str:
    data = v.data.value
    return data if isinstance(data, str) else msgspec.json.encode(data).decode()


def searchable(values: list[HandleValue]) -> list[HandleValue]:
    return [v for v in values if v.type not in UNSEARCHED_TYPES]


def index_text(handle_key: str, values: list[HandleValue]) -> str:
    """The ``search_text`` stored with a record: the folded handle, then the text of each
    searchable value, a line each. The database narrows with it; ``_matches`` decides."""
    return "\n".join([handle_key, *(_value_text(v) for v in searchable(values))])


def _matches(query: Query, values: list[HandleValue]) -> bool:
    values = searchable(values)
    if query.type and not any(type_matches(v.type, query.type) for v in values):
        return False
    if query.value is not None:
        needle = query.value.lower()
        if not any(
            needle in _value_text(v).lower()
            for v in values
            if not query.type or type_matches(v.type, query.type)
        ):
            return False
    if query.attr is not None:
        name, needle = query.attr[0], query.attr[1].lower()
        if not any(type_matches(v.type, name) and needle in _value_text(v).lower() for v in values):
            return False
    if query.template is not None:
        code = query.template.lower()
        declared = next((_value_text(v).lower() for v in values if v.index == 1001), "")
        if declared != code and not declared.startswith(code + "@"):
            return False
    if query.pattern is not None:
        rx = _wildcard(query.pattern)
        if not any(
            rx.fullmatch(_value_text(v))
            for v in values
            if not query.type or type_matches(v.type, query.type)
        ):
            return False
    return True


def _conditions(query: Query) -> list[Any]:
    where: list[Any] = []
    if query.q:
        pattern = f"%{_escape(fold(query.q))}%"
        # search_text carries the trigram index; handle_key keeps a value that merely
        # contains the text from matching.
        where += [_like("search_text", pattern), _like("handle_key", pattern)]
    for needle in (query.value, query.attr[1] if query.attr else None, query.template):
        if needle:
            where.append(_like("search_text", f"%{_escape(needle)}%"))
    if query.pattern:
        parts = [_escape(p) for p in query.pattern.split("*")]
        where.append(_like("search_text", "%" + "%".join(parts) + "%"))
    for column, low, high in (
        (Identifier.created_at, query.created_from, query.created_to),
        (Identifier.updated_at, query.updated_from, query.updated_to),
    ):
        if low is not None:
            where.append(column >= low)
        if high is not None:
            where.append(column < high)
    return where


async def search(
    principal: Principal | None,
    query: Query,
    *,
    cursor: str | None = None,
    limit: int = 50,
    tenant_id: int | None = None,
) -> Page:
    """One page of matches. ``tenant_id`` other than the caller's is for staff, whose
    searches are written to the audit log, and for a partner that tenant granted
    something to (tenants/grants): it finds only the records the grants name, and sees
    their public and granted values."""
    if principal is None:
        raise AuthenticationNeeded("search needs an API key or an SNMS token")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidValue(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    # Before the audit row: a search refused for a bad cursor is not a search made.
    last = decode_cursor(cursor) if cursor else 0
    if principal.is_staff:
        scope = tenant_id
        await audit.record(
            actor=principal.actor,
            action="search.staff",
            target=str(scope) if scope is not None else "*",
            tenant_id=scope,
            detail={k: str(v) for k, v in asdict(query).items() if v is not None},
        )
    grants: GrantSet | None = None
    if not principal.is_staff:
        if principal.tenant_id is None:
            raise InsufficientPermissions("you can search only your own tenant")
        if tenant_id not in (None, principal.tenant_id):
            grants = await grants_for(tenant_id, principal) if sees_private(principal) else None
            if grants is None:
                raise InsufficientPermissions(
                    "you can search only your own tenant, or one that granted you access"
                )
        scope = tenant_id if grants is not None else principal.tenant_id
    where = _conditions(query)
    eng = db.engine()
    # Staff search across tenants on their own path; a tenant only within its own.
    reading = (
        cross_tenant("staff") if principal.is_staff else tenant_transaction(scope, write=False)
    )
    async with reading:
        if isinstance(eng, db.PostgresEngine) and where:
            # A generic plan cannot see how selective a LIKE pattern is and walks the id
            # index of the whole tenant; a custom plan picks the trigram index when it pays.
            await eng.run_ddl("SET LOCAL plan_cache_mode = force_custom_plan")
        return await _scan(principal, query, where, scope, last, limit, grants)


async def _scan(
    principal: Principal,
    query: Query,
    where: list[Any],
    scope: int | None,
    last: int,
    limit: int,
    grants: GrantSet | None = None,
) -> Page:
    hits: list[Hit] = []
    exhausted = False
    batch = max(limit * 2, 100)
    for _ in range(_SCAN_ROUNDS):
        sel = Identifier.select(
            Identifier.id,
            Identifier.tenant_id,
            Identifier.handle,
            Identifier.values,
            Identifier.created_at,
            Identifier.updated_at,
        ).where(Identifier.id > last)
        if scope is not None:
            sel = sel.where(Identifier.tenant_id == scope)
        for condition in where:
            sel = sel.where(condition)
        rows = await sel.order_by(Identifier.id).limit(batch).run()
        for row in rows:
            last = row["id"]
            values = load_values(row["values"])
            if grants is not None:
                if not grants.covers(row["handle"], values):
                    continue
                shown = grants.reveal(row["handle"], values)
            else:
                shown = values if principal.is_staff else visible(principal, values)
            if _matches(query, shown):
                hits.append(
                    Hit(
                        row["handle"], row["tenant_id"], row["created_at"], row["updated_at"], shown
                    )
                )
                if len(hits) == limit:
                    break
        if len(hits) == limit:
            break
        if len(rows) < batch:
            exhausted = True
            break
    return Page(hits, None if exhausted else encode_cursor(last))


async def merge_pending_index() -> None:
    """Merge the trigram index's pending list now rather than at the next vacuum (a bulk
    job calls this when it finishes): every search scans that list whole, which after a
    bulk load adds ~20 ms per search."""
    if not isinstance(db.engine(), db.PostgresEngine):
        return
    try:
        await db.engine().run_ddl("SELECT gin_clean_pending_list('identifiers_search_trgm')")
    except Exception:  # housekeeping: the job is done whether or not this succeeds
        log.warning("could not merge the search index's pending list", exc_info=True)
