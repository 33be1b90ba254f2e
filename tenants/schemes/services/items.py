"""GS1 item descriptions: what a GS1 key path identifies, in the tenant's words.

GS1's linkset schema requires an ``itemDescription`` on every linkset entry, so each
key path a tenant publishes links for can carry one ("Risotto rice 411 g", "Lot 42 of
pump P-300"). It lives beside the links, on the same key paths and under the same
rules: the key must lie under one of the tenant's verified GS1 company prefixes,
writing needs the ``write`` scope and an active tenant, and another tenant's items are
never visible. Where a key path has none, the resolver describes it from the nearest
described key above it, else from the tenant's name and the key
(``resolver.gs1.links.item_description``).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core import audit, db
from core.auth import Principal
from core.bus import get_bus
from core.errors import Conflict, InvalidValue, NotFound
from core.tenancy import tenant_transaction
from tenants.schemes.services.common import gs1_path, require, require_active
from tenants.schemes.services.links import owned_key_path, primary_path
from tenants.schemes.tables import GS1Item

MAX_DESCRIPTION = 500
MAX_PAGE_SIZE = 1000
MAX_PAGE = 10_000_000  # keeps page * pageSize far inside a 64-bit offset


@dataclass(frozen=True, slots=True)
class ItemInfo:
    key: str
    description: str
    created_at: datetime
    updated_at: datetime


def _info(r: dict[str, Any]) -> ItemInfo:
    return ItemInfo(r["key_path"], r["description"], r["created_at"], r["updated_at"])


def clean_description(text: str, field: str = "description") -> str:
    text = text.strip()
    if not text:
        raise InvalidValue(
            f"{field}: must not be empty (delete the item to drop its description)",
            field=field,
        )
    if len(text) > MAX_DESCRIPTION:
        raise InvalidValue(
            f"{field}: at most {MAX_DESCRIPTION} characters, got {len(text)}", field=field
        )
    for i, ch in enumerate(text, start=1):
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            raise InvalidValue(
                f"{field}: control or format character U+{ord(ch):04X} at position {i}",
                field=field,
            )
    return text


def _where(p: Principal, key_path: str) -> Any:
    return (GS1Item.tenant_id == p.tenant_id) & (GS1Item.key_path == key_path)


async def set_item(
    principal: Principal | None, key: str, description: str
) -> tuple[ItemInfo, bool]:
    """Create or replace the description of `key`; True when it was created."""
    p = await require_active(principal)
    text = clean_description(description)
    key_path = await owned_key_path(p, key)
    now = datetime.now(UTC)
    try:
        async with tenant_transaction(p.tenant_id):
            existed = await GS1Item.exists().where(_where(p, key_path))
            if existed:
                await GS1Item.update({GS1Item.description: text, GS1Item.updated_at: now}).where(
                    _where(p, key_path)
                )
            else:
                await GS1Item.insert(
                    GS1Item(
                        tenant_id=p.tenant_id,
                        key_path=key_path,
                        description=text,
                        created_at=now,
                        updated_at=now,
                    )
                )
            await audit.record(
                actor=p.actor,
                action="gs1_item.update" if existed else "gs1_item.add",
                target=f"gs1:{key_path}",
                tenant_id=p.tenant_id,
                detail={"description": text},
            )
    except Exception as exc:
        if db.is_unique_violation(exc):
            raise Conflict(f"{key_path} was described at the same time; try again") from None
        raise
    await get_bus().publish(f"gs1:{primary_path(key_path)}")
    return await get_item(p, key_path), not existed


async def get_item(principal: Principal | None, key: str) -> ItemInfo:
    p = require(principal, "read")
    key_path = gs1_path(key).canonical_path()
    async with tenant_transaction(p.tenant_id, write=False):
        row = await GS1Item.select().where(_where(p, key_path)).first()
    if row is None:
        raise NotFound(f"{key_path} has no item description in this tenant", field="key")
    return _info(row)


async def delete_item(principal: Principal | None, key: str) -> ItemInfo:
    p = await require_active(principal)
    current = await get_item(p, key)
    async with tenant_transaction(p.tenant_id):
        await GS1Item.delete().where(_where(p, current.key))
        await audit.record(
            actor=p.actor,
            action="gs1_item.delete",
            target=f"gs1:{current.key}",
            tenant_id=p.tenant_id,
            detail={},
        )
    await get_bus().publish(f"gs1:{primary_path(current.key)}")
    return current


async def list_items(
    principal: Principal | None, *, page: int = 0, page_size: int = 100
) -> tuple[int, list[ItemInfo]]:
    """The tenant's item descriptions, by key path; `page` and `page_size` bounded."""
    p = require(principal, "read")
    if not 0 <= page <= MAX_PAGE:
        raise InvalidValue(f"page: must be 0 to {MAX_PAGE}", field="page")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidValue(f"pageSize: must be 1 to {MAX_PAGE_SIZE}", field="pageSize")
    where = GS1Item.tenant_id == p.tenant_id
    async with tenant_transaction(p.tenant_id, write=False):
        total = await GS1Item.count().where(where)
        rows = (
            await GS1Item.select()
            .where(where)
            .order_by(GS1Item.key_path)
            .limit(page_size)
            .offset(page * page_size)
        )
    return total, [_info(r) for r in rows]
