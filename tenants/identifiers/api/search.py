"""Search and reverse look-up over HTTP (thin: parse, authenticate, call the service).

``GET /api/search`` pages with an opaque ``cursor``. ``GET /hrls/handles?URL=...``
answers like the Handle reverse-lookup servlet: a JSON array of handles; the parameter
name is a value type and ``*`` is a wildcard. Both need credentials (an API key or an
SNMS token) and only ever look inside the caller's own tenant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from core.auth import Principal
from core.errors import InvalidValue
from core.limits import MAX_PAGE
from core.openapi import ok
from tenants.accounts.services.tenants import get_by_prefix
from tenants.identifiers.schemas import SearchPage
from tenants.identifiers.services.search import Query, search

_json = msgspec.json.Encoder()
_RESERVED = {"limit", "page", "cursor"}
MAX_REVERSE_SKIP = 10_000


def _when(raw: str | None, name: str) -> datetime | None:
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidValue(f"{name} must be an ISO 8601 time, got {raw!r}", field=name) from None
    if value.tzinfo is None:
        raise InvalidValue(f"{name} needs a time zone, e.g. 2026-01-02T00:00:00Z", field=name)
    return value


@get("/api/search", tags=["Query"], summary="Search your identifiers (exact and fuzzy)",
     responses=ok(SearchPage))  # fmt: skip
async def search_identifiers(
    caller: NamedDependency[Principal],
    q: Annotated[str | None, QueryParameter(required=False)] = None,
    value: Annotated[str | None, QueryParameter(required=False)] = None,
    value_type: Annotated[str | None, QueryParameter(name="type", required=False)] = None,
    attr: Annotated[str | None, QueryParameter(required=False)] = None,
    template: Annotated[str | None, QueryParameter(required=False)] = None,
    created_from: Annotated[str | None, QueryParameter(name="createdFrom", required=False)] = None,
    created_to: Annotated[str | None, QueryParameter(name="createdTo", required=False)] = None,
    updated_from: Annotated[str | None, QueryParameter(name="updatedFrom", required=False)] = None,
    updated_to: Annotated[str | None, QueryParameter(name="updatedTo", required=False)] = None,
    cursor: Annotated[str | None, QueryParameter(required=False)] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=500, required=False)] = 50,
    owner: Annotated[str | None, QueryParameter(required=False, max_length=255)] = None,
) -> Response[bytes]:
    attr_pair = None
    if attr is not None:
        name, sep, needle = attr.partition(":")
        if not sep or not name:
            raise InvalidValue("attr looks like attr=model:X-100 (type:text)", field="attr")
        attr_pair = (name, needle)
    query = Query(
        q=q,
        value=value,
        type=value_type,
        attr=attr_pair,
        template=template,
        created_from=_when(created_from, "createdFrom"),
        created_to=_when(created_to, "createdTo"),
        updated_from=_when(updated_from, "updatedFrom"),
        updated_to=_when(updated_to, "updatedTo"),
    )
    # ``owner``: another tenant's prefix, searched as far as its grants to the caller reach.
    tenant_id = (await get_by_prefix(owner)).id if owner else None
    page = await search(caller, query, cursor=cursor, limit=limit, tenant_id=tenant_id)
    body = {
        "responseCode": 1,
        "items": [h.to_json() for h in page.hits],
        "nextCursor": page.next_cursor,
    }
    return Response(content=_json.encode(body), media_type="application/json")


@get("/hrls/handles", tags=["Query"], summary="Reverse look-up: handles whose value matches",
     responses=ok(list[str]))  # fmt: skip
async def reverse_lookup(
    request: Request[Any, Any, Any],
    caller: NamedDependency[Principal],
    limit: Annotated[int, QueryParameter(ge=1, le=1000, required=False)] = 100,
    page: Annotated[int, QueryParameter(ge=0, le=MAX_PAGE, required=False)] = 0,
) -> Response[bytes]:
    # Each skipped hit is read from the database: deep pages are refused up front.
    if page * limit > MAX_REVERSE_SKIP:
        raise InvalidValue(
            f"page × limit may reach {MAX_REVERSE_SKIP:,} at most; narrow the pattern",
            field="page",
        )
    wanted = [(k, v) for k, v in request.query_params.items() if k not in _RESERVED]
    if len(wanted) != 1:
        raise InvalidValue("give exactly one TYPE=pattern, e.g. ?URL=*example.com*", field="type")
    vtype, pattern = wanted[0]
    query = Query(type=vtype, pattern=pattern)
    handles: list[str] = []
    skip = page * limit
    cursor: str | None = None
    while True:
        result = await search(caller, query, cursor=cursor, limit=min(500, skip + limit))
        for hit in result.hits:
            if skip:
                skip -= 1
                continue
            handles.append(hit.handle)
        if len(handles) >= limit or result.next_cursor is None:
            break
        cursor = result.next_cursor
    return Response(content=_json.encode(handles[:limit]), media_type="application/json")


ROUTES = [search_identifiers, reverse_lookup]
