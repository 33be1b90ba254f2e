"""Private ↔ public mapping: a tenant's internal codes (内部编码) and its identifiers.

A mapping ties one private code to one public identifier of the same tenant: a handle
under its prefix, or a registered scheme code written ``gs1:/01/...``, ``oid:1.2...``,
``ecode:...``, ``vaa:...`` (stored with the handle it is bound to). Either side
resolves to the other, for the tenant's own credentials only, with the same
permissions as the Handle API: reading needs the read scope, writing the write scope,
and restricted values show only to the tenant itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core import audit
from core.auth import Principal
from core.bus import get_bus
from core.errors import IdnestError, InsufficientPermissions, InvalidValue, NotFound
from core.identifiers import check_new_handle, fold, is_under, parse_handle
from core.tenancy import tenant_transaction
from core.values import HandleValue, filter_values, load_values
from tenants.identifiers.tables import Identifier
from tenants.schemes.services.common import canonical_code, require, require_active
from tenants.schemes.tables import SCHEMES, CodeMapping, SchemeCode

MAX_BULK = 10_000
MAX_PRIVATE_LENGTH = 512
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SCHEME_REF = re.compile(r"^(gs1|oid|ecode|vaa):(.+)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class MappingInfo:
    private_code: str
    public: str
    handle: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ItemResult:
    index: int
    private_code: str | None
    status: str  # created, updated, unchanged, error
    error: IdnestError | None = None
    mapping: MappingInfo | None = None


@dataclass(frozen=True, slots=True)
class Resolved:
    mapping: MappingInfo
    values: list[HandleValue] | None  # None: the handle has no record (yet)


def _info(r: dict[str, Any]) -> MappingInfo:
    return MappingInfo(
        r["private_code"], r["public"], r["handle"], r["created_at"], r["updated_at"]
    )


def clean_private(code: Any) -> str:
    if not isinstance(code, str) or not code.strip():
        raise InvalidValue("private_code: must be a non-empty string", field="private_code")
    code = code.strip()
    if len(code) > MAX_PRIVATE_LENGTH:
        raise InvalidValue(
            f"private_code: at most {MAX_PRIVATE_LENGTH} characters, got {len(code)}",
            field="private_code",
        )
    if _CONTROL.search(code):
        raise InvalidValue("private_code: contains a control character", field="private_code")
    return code


async def public_handle(p: Principal, public: Any) -> tuple[str, str]:
    """(canonical public form, handle) of one of the tenant's own public identifiers."""
    if not isinstance(public, str) or not public.strip():
        raise InvalidValue("public: must be a handle or a scheme code", field="public")
    public = public.strip()
    ref = _SCHEME_REF.match(public)
    if ref:
        scheme = ref.group(1).lower()
        assert scheme in SCHEMES
        code = canonical_code(scheme, ref.group(2), field="public")
        async with tenant_transaction(p.tenant_id, write=False):
            row = (
                await SchemeCode.select(SchemeCode.handle)
                .where(
                    (SchemeCode.tenant_id == p.tenant_id)
                    & (SchemeCode.scheme == scheme)
                    & (SchemeCode.code == code)
                )
                .first()
            )
        if row is None:
            raise NotFound(
                f"public: {scheme}:{code} is not registered by this tenant", field="public"
            )
        return f"{scheme}:{code}", row["handle"]
    handle = check_new_handle(parse_handle(public))
    if not p.tenant_prefix or not is_under(handle.prefix, p.tenant_prefix):
        raise InsufficientPermissions(
            f"public: {handle.text} is not under this tenant's prefix {p.tenant_prefix}"
        )
    return handle.text, handle.text


async def put_mapping(principal: Principal | None, private_code: Any, public: Any) -> ItemResult:
    """Create or change one mapping."""
    results = await put_mappings(principal, [{"private_code": private_code, "public": public}])
    result = results[0]
    if result.error is not None:
        raise result.error
    return result


async def put_mappings(principal: Principal | None, items: Any) -> list[ItemResult]:
    """Create or change many mappings. Each item gets its own result; valid items are
    written together in one transaction, invalid ones are reported and not written."""
    p = await require_active(principal)
    if not isinstance(items, list):
        raise InvalidValue("the body must be a JSON array of {private_code, public}", field="body")
    if len(items) > MAX_BULK:
        raise InvalidValue(
            f"at most {MAX_BULK} mappings per request, got {len(items)}", field="body"
        )
    results: list[ItemResult | None] = [None] * len(items)
    valid: dict[str, tuple[int, str, str]] = {}
    for i, item in enumerate(items):
        raw_code = item.get("private_code") if isinstance(item, dict) else None
        try:
            if not isinstance(item, dict) or set(item) - {"private_code", "public"}:
                raise InvalidValue(
                    "each item must be an object with private_code and public only", field="item"
                )
            code = clean_private(item.get("private_code"))
            public, handle = await public_handle(p, item.get("public"))
            if code in valid:
                raise InvalidValue(
                    f"private_code: {code!r} appears twice (first at item {valid[code][0]})",
                    field="private_code",
                )
            valid[code] = (i, public, handle)
        except IdnestError as exc:
            results[i] = ItemResult(
                i, raw_code if isinstance(raw_code, str) else None, "error", exc
            )
    now = datetime.now(UTC)
    if valid:
        async with tenant_transaction(p.tenant_id):
            existing: dict[str, dict[str, Any]] = {}
            codes = list(valid)
            for start in range(0, len(codes), 500):
                rows = await CodeMapping.select().where(
                    (CodeMapping.tenant_id == p.tenant_id)
                    & CodeMapping.private_code.is_in(codes[start : start + 500])
                )
                existing.update({r["private_code"]: r for r in rows})
            new_rows = []
            for code, (i, public, handle) in valid.items():
                old = existing.get(code)
                if old is None:
                    new_rows.append(
                        CodeMapping(
                            tenant_id=p.tenant_id,
                            private_code=code,
                            public=public,
                            handle=handle,
                            handle_key=fold(handle),
                            created_at=now,
                            updated_at=now,
                        )
                    )
                    info = MappingInfo(code, public, handle, now, now)
                    results[i] = ItemResult(i, code, "created", mapping=info)
                elif old["public"] == public and old["handle"] == handle:
                    results[i] = ItemResult(i, code, "unchanged", mapping=_info(old))
                else:
                    await CodeMapping.update(
                        {
                            CodeMapping.public: public,
                            CodeMapping.handle: handle,
                            CodeMapping.handle_key: fold(handle),
                            CodeMapping.updated_at: now,
                        }
                    ).where(CodeMapping.id == old["id"])
                    info = MappingInfo(code, public, handle, old["created_at"], now)
                    results[i] = ItemResult(i, code, "updated", mapping=info)
            for start in range(0, len(new_rows), 500):
                await CodeMapping.insert(*new_rows[start : start + 500])
            counts: dict[str, int] = {}
            for r in results:
                if r is not None:
                    counts[r.status] = counts.get(r.status, 0) + 1
            await audit.record(
                actor=p.actor,
                action="mapping.put",
                target=f"{len(valid)} mappings" if len(valid) > 1 else next(iter(valid)),
                tenant_id=p.tenant_id,
                detail=counts,
            )
        await get_bus().publish(f"mapping:{p.tenant_id}")
    return [r for r in results if r is not None]


async def resolve_private(principal: Principal | None, private_code: Any) -> Resolved:
    """A private code → its public identifier and the record, restricted values too."""
    p = require(principal, "read")
    code = clean_private(private_code)
    async with tenant_transaction(p.tenant_id, write=False):
        row = (
            await CodeMapping.select()
            .where((CodeMapping.tenant_id == p.tenant_id) & (CodeMapping.private_code == code))
            .first()
        )
        if row is None:
            raise NotFound(
                f"private_code: {code!r} is not mapped in this tenant", field="private_code"
            )
        record = (
            await Identifier.select(Identifier.values)
            .where(
                (Identifier.tenant_id == p.tenant_id) & (Identifier.handle_key == row["handle_key"])
            )
            .first()
        )
    values = None
    if record is not None:
        values = filter_values(load_values(record["values"]), public_only=False)
    return Resolved(_info(row), values)


async def resolve_public(principal: Principal | None, public: Any) -> list[MappingInfo]:
    """A public identifier of the tenant → the private codes mapped to it."""
    p = require(principal, "read")
    _, handle = await public_handle(p, public)
    async with tenant_transaction(p.tenant_id, write=False):
        rows = (
            await CodeMapping.select()
            .where(
                (CodeMapping.tenant_id == p.tenant_id) & (CodeMapping.handle_key == fold(handle))
            )
            .order_by(CodeMapping.private_code)
        )
    return [_info(r) for r in rows]


async def delete_mapping(principal: Principal | None, private_code: Any) -> MappingInfo:
    p = await require_active(principal)
    code = clean_private(private_code)
    async with tenant_transaction(p.tenant_id):
        row = (
            await CodeMapping.select()
            .where((CodeMapping.tenant_id == p.tenant_id) & (CodeMapping.private_code == code))
            .first()
        )
        if row is None:
            raise NotFound(
                f"private_code: {code!r} is not mapped in this tenant", field="private_code"
            )
        await CodeMapping.delete().where(CodeMapping.id == row["id"])
        await audit.record(
            actor=p.actor, action="mapping.delete", target=code, tenant_id=p.tenant_id
        )
    await get_bus().publish(f"mapping:{p.tenant_id}")
    return _info(row)


async def list_mappings(
    principal: Principal | None, *, page: int = 0, page_size: int = 100
) -> tuple[int, list[MappingInfo]]:
    p = require(principal, "read")
    where = CodeMapping.tenant_id == p.tenant_id
    async with tenant_transaction(p.tenant_id, write=False):
        total = await CodeMapping.count().where(where)
        rows = (
            await CodeMapping.select()
            .where(where)
            .order_by(CodeMapping.private_code)
            .offset(page * page_size)
            .limit(page_size)
        )
    return total, [_info(r) for r in rows]
