"""Scheme codes: GS1 keys, OIDs, Ecodes and VAA codes a tenant registers.

Each code is checked by its scheme's rules and against the tenant's verified
namespaces, then bound to a Handle record of the tenant (by default
``{prefix}/{scheme}/{code}``), so it resolves through its own syntax (``/01/...``,
``/oid/...``) and through its Handle form. The record carries the code at index 2
(type GS1, OID, ECODE or VAA) and, when a URL is given, the URL at index 1; for a GS1
key that URL is also the key's default link, and the link service keeps the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core import audit, db
from core.auth import Principal
from core.bus import get_bus
from core.errors import Conflict, InsufficientPermissions, NotFound
from core.identifiers import check_new_handle, parse_handle
from core.outbox import OP_ADD, OP_DELETE, enqueue
from core.schemes.ecode import validate_ecode
from core.schemes.gs1 import gs1_company_prefix_matches
from core.schemes.oid import oid_is_under
from core.schemes.vaa import validate_vaa
from core.tenancy import tenant_transaction
from tenants.identifiers.services import records
from tenants.schemes.services import links as links_service
from tenants.schemes.services.common import (
    canonical_code,
    checked,
    ecode_rules,
    gs1_path,
    require,
    require_active,
    require_scheme,
    vaa_rules,
)
from tenants.schemes.services.link_fields import check_href
from tenants.schemes.services.namespaces import LABELS, verified_values
from tenants.schemes.tables import SchemeCode

VALUE_TYPES = {"gs1": "GS1", "oid": "OID", "ecode": "ECODE", "vaa": "VAA"}
URL_INDEX, CODE_INDEX = 1, 2


@dataclass(frozen=True, slots=True)
class CodeInfo:
    scheme: str
    code: str
    handle: str
    created_at: datetime


def _outside(scheme: str, code: str, namespaces: list[str]) -> InsufficientPermissions:
    held = ", ".join(namespaces) if namespaces else "none verified"
    return InsufficientPermissions(
        f"code: {code} is not under this tenant's verified {LABELS[scheme]}s ({held})"
    )


async def check_in_namespace(tenant_id: int, scheme: str, code: str) -> str:
    """Validate `code` and that it lies in one of the tenant's verified namespaces;
    returns the canonical code. A bad code is 400, another's namespace 403."""
    canonical = canonical_code(scheme, code)
    namespaces = await verified_values(tenant_id, scheme)
    if scheme == "gs1":
        dl = gs1_path(canonical)
        if not any(gs1_company_prefix_matches(dl, ns) for ns in namespaces):
            raise _outside(scheme, canonical, namespaces)
    elif scheme == "oid":
        if not any(oid_is_under(canonical, ns) for ns in namespaces):
            raise _outside(scheme, canonical, namespaces)
    elif scheme == "ecode":
        if not any(canonical.startswith(ns) and canonical != ns for ns in namespaces):
            raise _outside(scheme, canonical, namespaces)
        checked("code", lambda: validate_ecode(canonical, namespaces, rules=ecode_rules()))
    else:
        if not any(canonical.startswith(ns) and canonical != ns for ns in namespaces):
            raise _outside(scheme, canonical, namespaces)
        checked("code", lambda: validate_vaa(canonical, namespaces, rules=vaa_rules()))
    return canonical


def default_handle(prefix: str, scheme: str, code: str) -> str:
    return f"{prefix}/{scheme}{code}" if scheme == "gs1" else f"{prefix}/{scheme}/{code}"


def invalidations(scheme: str, code: str) -> list[str]:
    if scheme == "gs1":
        return [f"gs1:{gs1_path(code).walk_up_paths()[-1]}"]
    return [f"code:{scheme}:{code}"]


async def register_code(
    principal: Principal | None,
    scheme: str,
    code: str,
    *,
    handle: str | None = None,
    url: str | None = None,
    link_type: str = "gs1:pip",
    title: str = "",
) -> CodeInfo:
    """Register a code under the tenant's namespace and bind it to a Handle record."""
    require_scheme(scheme)
    p = await require_active(principal)
    assert p.tenant_id is not None and p.tenant_prefix is not None
    canonical = await check_in_namespace(p.tenant_id, scheme, code)
    handle_text = (handle or "").strip() or default_handle(p.tenant_prefix, scheme, canonical)
    parsed = check_new_handle(parse_handle(handle_text))
    values: list[dict[str, Any]] = [
        {"index": CODE_INDEX, "type": VALUE_TYPES[scheme], "data": canonical}
    ]
    if url is not None:
        check_href(url, "url")
        values.insert(0, {"index": URL_INDEX, "type": "URL", "data": url})
    now = datetime.now(UTC)
    try:
        async with tenant_transaction(p.tenant_id):
            exists = await SchemeCode.exists().where(
                (SchemeCode.tenant_id == p.tenant_id)
                & (SchemeCode.scheme == scheme)
                & (SchemeCode.code == canonical)
            )
            if exists:
                raise Conflict(f"code: {canonical} is already registered", field="code")
            taken = (
                await SchemeCode.select(SchemeCode.scheme, SchemeCode.code)
                .where((SchemeCode.tenant_id == p.tenant_id) & (SchemeCode.handle == parsed.text))
                .first()
            )
            if taken is not None:
                raise Conflict(
                    f"handle: {parsed.text} is already bound to {taken['scheme']}:"
                    f"{taken['code']}; one handle carries one code",
                    field="handle",
                )
            await SchemeCode.insert(
                SchemeCode(
                    tenant_id=p.tenant_id,
                    scheme=scheme,
                    code=canonical,
                    handle=parsed.text,
                    created_at=now,
                )
            )
            await records.put_record(p, parsed.text, values, indices=[v["index"] for v in values])
            if scheme == "gs1" and url is not None:
                await links_service.insert_link(
                    p,
                    canonical,
                    link_type=link_type,
                    href=url,
                    title=title,
                    is_default=None,
                    sync=False,
                )
            await audit.record(
                actor=p.actor,
                action="scheme_code.register",
                target=f"{scheme}:{canonical}",
                tenant_id=p.tenant_id,
                detail={"handle": parsed.text},
            )
            await enqueue(
                "upstream.scheme_code",
                {"scheme": scheme, "code": canonical, "handle": parsed.text, "op": OP_ADD},
                tenant_id=p.tenant_id,
            )
    except Conflict:
        raise
    except Exception as exc:
        if db.is_unique_violation(exc):
            raise Conflict(f"code: {canonical} is already registered", field="code") from None
        raise
    await get_bus().publish(*invalidations(scheme, canonical), f"rec:{parsed.key}")
    return CodeInfo(scheme, canonical, parsed.text, now)


async def list_codes(
    principal: Principal | None, scheme: str, *, page: int = 0, page_size: int = 100
) -> tuple[int, list[CodeInfo]]:
    require_scheme(scheme)
    p = require(principal, "read")
    where = (SchemeCode.tenant_id == p.tenant_id) & (SchemeCode.scheme == scheme)
    async with tenant_transaction(p.tenant_id, write=False):
        total = await SchemeCode.count().where(where)
        rows = (
            await SchemeCode.select()
            .where(where)
            .order_by(SchemeCode.code)
            .offset(page * page_size)
            .limit(page_size)
        )
    return total, [CodeInfo(scheme, r["code"], r["handle"], r["created_at"]) for r in rows]


async def get_code(principal: Principal | None, scheme: str, code: str) -> CodeInfo:
    require_scheme(scheme)
    p = require(principal, "read")
    canonical = canonical_code(scheme, code)
    async with tenant_transaction(p.tenant_id, write=False):
        row = (
            await SchemeCode.select()
            .where(
                (SchemeCode.tenant_id == p.tenant_id)
                & (SchemeCode.scheme == scheme)
                & (SchemeCode.code == canonical)
            )
            .first()
        )
    if row is None:
        raise NotFound(f"code: {canonical} is not registered by this tenant", field="code")
    return CodeInfo(scheme, row["code"], row["handle"], row["created_at"])


async def unregister_code(principal: Principal | None, scheme: str, code: str) -> CodeInfo:
    """Unbind a code. Its Handle record stays (delete it through the Handle API), and
    a GS1 key's links stay until deleted, so nothing is lost by accident."""
    require_scheme(scheme)
    p = await require_active(principal)
    canonical = canonical_code(scheme, code)
    async with tenant_transaction(p.tenant_id):
        row = (
            await SchemeCode.select()
            .where(
                (SchemeCode.tenant_id == p.tenant_id)
                & (SchemeCode.scheme == scheme)
                & (SchemeCode.code == canonical)
            )
            .first()
        )
        if row is None:
            raise NotFound(f"code: {canonical} is not registered by this tenant", field="code")
        await SchemeCode.delete().where(SchemeCode.id == row["id"])
        await audit.record(
            actor=p.actor,
            action="scheme_code.unregister",
            target=f"{scheme}:{canonical}",
            tenant_id=p.tenant_id,
            detail={"handle": row["handle"]},
        )
        await enqueue(
            "upstream.scheme_code",
            {"scheme": scheme, "code": canonical, "handle": row["handle"], "op": OP_DELETE},
            tenant_id=p.tenant_id,
        )
    await get_bus().publish(*invalidations(scheme, canonical))
    return CodeInfo(scheme, canonical, row["handle"], row["created_at"])


async def handle_for(tenant_id: int, scheme: str, code: str) -> str | None:
    """The handle a tenant's registered code is bound to (canonical code expected)."""
    async with tenant_transaction(tenant_id, write=False):
        row = (
            await SchemeCode.select(SchemeCode.handle)
            .where(
                (SchemeCode.tenant_id == tenant_id)
                & (SchemeCode.scheme == scheme)
                & (SchemeCode.code == code)
            )
            .first()
        )
    return row["handle"] if row else None
