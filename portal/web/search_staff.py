"""Staff console: search identifiers in one tenant or across all of them (issue #6).

Staff see every value, restricted ones too, of every tenant. So the search service
writes each staff search to the audit log (``search.staff``, actor ``staff:<id>``), and
this page shows the latest ones. A search runs only on a POST carrying the CSRF token:
an audit row in someone's name must be a search they asked for, not one that a link on
another site made their browser send. GET shows the form (prefilled from the query
string, e.g. from a tenant page) and runs nothing.

Admins, operators and reviewers search; finance has no business in tenants' records and
gets the console's 404. Input is checked here before the service is called, so a bad
date, cursor or prefix is named on the page and leaves no audit row behind.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from litestar import Request, Response, get, post

from core.auth import Principal
from core.errors import IdnestError, InvalidValue
from core.tables import AuditLog
from core.tenancy import cross_tenant
from portal.web.common import Viewer, describe_error, error_text, gettext_for, page, require_staff
from tenants.accounts.services.tenants import TenantInfo, find_by_prefix
from tenants.accounts.tables import Tenant, User
from tenants.identifiers.services.search import Hit, Query, decode_cursor, search, searchable

ROLES = ("operator", "reviewer")
PAGE = 50
RECENT = 20
SHOWN_VALUES = 3
MAX_TEXT = 1024
TEXT_FIELDS = ("q", "value", "type", "attr_type", "attr_text", "template")
DATE_FIELDS = ("created_from", "created_to", "updated_from", "updated_to")
FIELDS = ("scope", "tenant", *TEXT_FIELDS, *DATE_FIELDS)

MESSAGES = {
    "date": "Not a date; use the form 2026-01-31.",
    "order": "The end of the range is before its start.",
    "no_tenant": "There is no tenant with this prefix.",
    "need_tenant": "Enter a tenant prefix, or choose all tenants.",
    "attr_type": "Name the attribute (its value type) to look in.",
    "too_long": "At most {n} characters.",
    "everything": "Searching all tenants needs at least one criterion.",
    "cursor": "This page link is no longer valid; search again from the first page.",
    "fix": "Some fields need attention.",
}
# How the audit detail's keys (the service's Query fields) read on the page. Upper
# bounds are stored as the first moment after the range, hence "before".
CRITERIA = {
    "q": "Identifier contains",
    "value": "Value contains",
    "type": "Value type",
    "attr": "Template attribute",
    "template": "Template code",
    "created_from": "Created from",
    "created_to": "Created before",
    "updated_from": "Updated from",
    "updated_to": "Updated before",
}
_ATTR_REPR = re.compile(r"^\('((?:[^'\\]|\\.)*)', '((?:[^'\\]|\\.)*)'\)$")


def can_search(viewer: Viewer) -> bool:
    return bool(viewer.staff_roles & {*ROLES, "admin"})


@dataclass
class Parsed:
    query: Query
    tenant: TenantInfo | None
    cursor: str | None
    errors: dict[str, tuple[str, dict[str, object]]]
    error: str = ""


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


def _bound(day: date | None, *, after: bool = False) -> datetime | None:
    """Midnight UTC of the day, or of the day after: both ends of a range are included."""
    if day is None or (after and day == date.max):  # the day after 9999-12-31 is none
        return None
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=int(after))


async def parse(values: dict[str, str], cursor: str) -> Parsed:
    errors: dict[str, tuple[str, dict[str, object]]] = {}
    for name in FIELDS:
        if len(values[name]) > MAX_TEXT:
            errors[name] = (MESSAGES["too_long"], {"n": MAX_TEXT})
    days: dict[str, date | None] = {}
    for name in DATE_FIELDS:
        days[name] = _day(values[name]) if values[name] else None
        if values[name] and days[name] is None:
            errors.setdefault(name, (MESSAGES["date"], {}))
    for low, high in (("created_from", "created_to"), ("updated_from", "updated_to")):
        start, end = days[low], days[high]
        if start and end and end < start:
            errors.setdefault(high, (MESSAGES["order"], {}))
    if values["attr_text"] and not values["attr_type"]:
        errors.setdefault("attr_type", (MESSAGES["attr_type"], {}))
    tenant = None
    if values["scope"] != "all":
        if not values["tenant"]:
            errors.setdefault("tenant", (MESSAGES["need_tenant"], {}))
        elif "tenant" not in errors:
            tenant = await find_by_prefix(values["tenant"].strip("/"))
            if tenant is None:
                errors["tenant"] = (MESSAGES["no_tenant"], {})
    query = Query(
        q=values["q"] or None,
        value=values["value"] or None,
        type=values["type"] or None,
        attr=(values["attr_type"], values["attr_text"]) if values["attr_type"] else None,
        template=values["template"] or None,
        created_from=_bound(days["created_from"]),
        created_to=_bound(days["created_to"], after=True),
        updated_from=_bound(days["updated_from"]),
        updated_to=_bound(days["updated_to"], after=True),
    )
    parsed = Parsed(query, tenant, cursor or None, errors)
    if values["scope"] == "all" and not any(values[n] for n in (*TEXT_FIELDS, *DATE_FIELDS)):
        parsed.error = MESSAGES["everything"]
    if cursor:
        try:
            decode_cursor(cursor)
        except InvalidValue:
            parsed.error = MESSAGES["cursor"]
    return parsed


def _form_values(source: Any) -> dict[str, str]:
    out = {name: str(source.get(name) or "").strip() for name in FIELDS}
    out["scope"] = "all" if out["scope"] == "all" else "one"
    return out


def _shown_values(hit: Hit) -> tuple[list[dict[str, Any]], int]:
    shown = searchable(hit.values)
    rows = []
    for v in shown[:SHOWN_VALUES]:
        data = v.data.value
        text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
        rows.append(
            {
                "type": v.type,
                "text": text if len(text) <= 80 else text[:79] + "…",
                "restricted": not v.public_read,
            }
        )
    return rows, max(0, len(shown) - SHOWN_VALUES)


async def _prefixes(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await Tenant.select(Tenant.id, Tenant.prefix).where(Tenant.id.is_in(list(ids))).run()
    return {r["id"]: r["prefix"] for r in rows}


def _criteria(detail: Any) -> list[tuple[str, str]]:
    if isinstance(detail, str):
        try:
            detail = json.loads(detail or "{}")
        except ValueError:
            detail = {}
    out = []
    for key, label in CRITERIA.items():
        text = str(detail.get(key, "")) if isinstance(detail, dict) else ""
        if not text:
            continue
        attr = _ATTR_REPR.match(text) if key == "attr" else None
        if attr:
            text = f"{attr.group(1)}: {attr.group(2)}"
        out.append((label, text.removesuffix(" 00:00:00+00:00")))
    return out


async def recent(tenant_id: int | None = None) -> list[dict[str, Any]]:
    """The latest staff searches: all of them, or those of one tenant alone."""
    query = AuditLog.select().where(AuditLog.action == "search.staff")
    if tenant_id is not None:
        query = query.where(AuditLog.tenant_id == tenant_id)
    async with cross_tenant("staff"):
        rows = await query.order_by(AuditLog.id, ascending=False).limit(RECENT).run()
    staff_ids = {
        int(r["actor"].split(":", 1)[1])
        for r in rows
        if r["actor"].startswith("staff:") and r["actor"][6:].isdigit()
    }
    emails = {}
    if staff_ids:
        users = await User.select(User.id, User.email).where(User.id.is_in(list(staff_ids))).run()
        emails = {f"staff:{u['id']}": u["email"] for u in users}
    prefixes = await _prefixes({r["tenant_id"] for r in rows if r["tenant_id"] is not None})
    return [
        {
            "at": r["created_at"],
            "who": emails.get(r["actor"], r["actor"]),
            "tenant": None
            if r["tenant_id"] is None
            else prefixes.get(r["tenant_id"], f"#{r['tenant_id']}"),
            "criteria": _criteria(r["detail"]),
        }
        for r in rows
    ]


async def _render(
    request: Request[Any, Any, Any],
    values: dict[str, str],
    *,
    status: int = 200,
    parsed: Parsed | None = None,
    hits: list[dict[str, Any]] | None = None,
    next_cursor: str | None = None,
    error: str = "",
) -> Response[str]:
    _ = gettext_for(request)
    return await page(
        request,
        "staff/search.html",
        status=status,
        v=values,
        ran=hits is not None,
        hits=hits or [],
        next_cursor=next_cursor,
        paged=bool(parsed and parsed.cursor),
        error=error,
        errors=error_text(_, parsed.errors) if parsed else {},
        recent=await recent(),
    )


@get("/staff/search", include_in_schema=False)
async def search_form(request: Request[Any, Any, Any]) -> Response[str]:
    await require_staff(request, *ROLES)
    return await _render(request, _form_values(request.query_params))


@post("/staff/search", include_in_schema=False)
async def run_search(request: Request[Any, Any, Any]) -> Response[str]:
    viewer = await require_staff(request, *ROLES)
    form = await request.form()
    values = _form_values(form)
    parsed = await parse(values, str(form.get("cursor") or "").strip())
    _ = gettext_for(request)
    if parsed.errors or parsed.error:
        error = _(parsed.error or MESSAGES["fix"])
        return await _render(request, values, status=400, parsed=parsed, error=error)
    staff = Principal(actor=f"staff:{viewer.id}", is_staff=True)
    tenant_id = parsed.tenant.id if parsed.tenant else None
    try:
        result = await search(
            staff, parsed.query, cursor=parsed.cursor, limit=PAGE, tenant_id=tenant_id
        )
    except IdnestError as exc:
        error = describe_error(request, exc)
        return await _render(request, values, status=400, parsed=parsed, error=error)
    prefixes = await _prefixes({h.tenant_id for h in result.hits})
    hits = []
    for h in result.hits:
        shown, more = _shown_values(h)
        hits.append(
            {
                "prefix": prefixes.get(h.tenant_id, ""),
                "handle": h.handle,
                "updated": h.updated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
                "shown": shown,
                "more": more,
            }
        )
    return await _render(request, values, parsed=parsed, hits=hits, next_cursor=result.next_cursor)


ROUTES = [search_form, run_search]
