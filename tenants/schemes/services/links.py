"""GS1 Digital Link links: what a GS1 key (or key + qualifiers) redirects to.

A link is (link type, href, title, language, context, media type) on one key path.
Each key path with links has exactly one default link, as the GS1-Conformant Resolver
standard asks: the first link becomes the default, choosing another default moves the
flag, and deleting the default promotes the oldest remaining link. When a registered
GS1 key's default link changes, its Handle record's URL (index 1) follows, so both
forms redirect to the same place.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core import audit, db
from core.auth import Principal
from core.bus import get_bus
from core.errors import Conflict, InsufficientPermissions, InvalidValue, NotFound
from core.identifiers import fold
from core.outbox import OP_MODIFY, enqueue
from core.schemes.gs1 import gs1_company_prefix_matches
from core.tenancy import tenant_transaction
from core.values import load_values
from tenants.identifiers.services import records
from tenants.identifiers.tables import Identifier
from tenants.schemes.schemas import LinkOut
from tenants.schemes.services.common import gs1_path, require, require_active
from tenants.schemes.services.link_fields import clean_fields
from tenants.schemes.services.namespaces import verified_values
from tenants.schemes.tables import GS1Link, SchemeCode

# A link as the API answers it (camelCase when encoded): one definition, in schemas.py.
LinkInfo = LinkOut


def _info(r: dict[str, Any]) -> LinkInfo:
    return LinkInfo(
        r["id"],
        r["key_path"],
        r["link_type"],
        r["href"],
        r["title"],
        r["language"],
        r["context"],
        r["media_type"],
        r["is_default"],
    )


async def owned_key_path(p: Principal, key: str) -> str:
    """The canonical key path, if it lies under the tenant's verified GS1 prefixes."""
    dl = gs1_path(key)
    prefixes = await verified_values(p.tenant_id or 0, "gs1")
    if not any(gs1_company_prefix_matches(dl, gcp) for gcp in prefixes):
        held = ", ".join(prefixes) if prefixes else "none verified"
        raise InsufficientPermissions(
            f"key: {dl.canonical_path()} is not under this tenant's verified GS1 company "
            f"prefixes ({held})"
        )
    return dl.canonical_path()


def primary_path(key_path: str) -> str:
    return gs1_path(key_path).walk_up_paths()[-1]


async def insert_link(
    p: Principal,
    key_path: str,
    *,
    link_type: str,
    href: str,
    title: str = "",
    language: str = "",
    context: str = "",
    media_type: str = "",
    is_default: bool | None = None,
    sync: bool = True,
) -> int:
    """Insert inside the caller's transaction; `key_path` must be canonical and owned."""
    fields = clean_fields(
        link_type=link_type,
        href=href,
        title=title,
        language=language,
        context=context,
        media_type=media_type,
    )
    where = (GS1Link.tenant_id == p.tenant_id) & (GS1Link.key_path == key_path)
    has_default = await GS1Link.exists().where(where & (GS1Link.is_default.eq(True)))
    default = (not has_default) if is_default is None else is_default
    if default and has_default:
        await GS1Link.update({GS1Link.is_default: False}).where(where)
    variant = await GS1Link.exists().where(
        where
        & (GS1Link.link_type == fields["link_type"])
        & (GS1Link.language == fields["language"])
        & (GS1Link.context == fields["context"])
        & (GS1Link.media_type == fields["media_type"])
    )
    if variant:
        raise Conflict(
            f"{key_path} already has a {fields['link_type']} link for this language, context "
            "and media type; update it instead",
            field="link_type",
        )
    now = datetime.now(UTC)
    rows = await GS1Link.insert(
        GS1Link(
            tenant_id=p.tenant_id,
            key_path=key_path,
            is_default=default,
            created_at=now,
            updated_at=now,
            link_type=fields["link_type"],
            href=fields["href"],
            title=fields["title"],
            language=fields["language"],
            context=fields["context"],
            media_type=fields["media_type"],
        )
    ).returning(GS1Link.id)
    if not default and not has_default:
        await _ensure_default(p, key_path)
    if sync:
        await _sync_handle(p, key_path)
    return int(rows[0]["id"])


async def _ensure_default(p: Principal, key_path: str) -> None:
    where = (GS1Link.tenant_id == p.tenant_id) & (GS1Link.key_path == key_path)
    if await GS1Link.exists().where(where & (GS1Link.is_default.eq(True))):
        return
    first = await GS1Link.select(GS1Link.id).where(where).order_by(GS1Link.id).first()
    if first is not None:
        await GS1Link.update({GS1Link.is_default: True}).where(GS1Link.id == first["id"])


async def _sync_handle(p: Principal, key_path: str) -> None:
    """Keep a registered key's Handle URL (index 1) equal to its default link."""
    bound = (
        await SchemeCode.select(SchemeCode.handle)
        .where(
            (SchemeCode.tenant_id == p.tenant_id)
            & (SchemeCode.scheme == "gs1")
            & (SchemeCode.code == key_path)
        )
        .first()
    )
    if bound is None:
        return
    default = (
        await GS1Link.select(GS1Link.href)
        .where(
            (GS1Link.tenant_id == p.tenant_id)
            & (GS1Link.key_path == key_path)
            & (GS1Link.is_default.eq(True))
        )
        .first()
    )
    handle = bound["handle"]
    row = (
        await Identifier.select(Identifier.values)
        .where((Identifier.tenant_id == p.tenant_id) & (Identifier.handle_key == fold(handle)))
        .first()
    )
    if row is None:
        return  # the tenant deleted the record: a link change must not bring it back
    if default is not None:
        await records.put_record(
            p, handle, [{"index": 1, "type": "URL", "data": default["href"]}], indices=[1]
        )
    elif any(v.index == 1 for v in load_values(row["values"])):
        await records.delete_record(p, handle, indices=[1])


async def _audit(p: Principal, action: str, key_path: str, detail: dict[str, Any]) -> None:
    await audit.record(
        actor=p.actor, action=action, target=f"gs1:{key_path}", tenant_id=p.tenant_id, detail=detail
    )
    await enqueue("upstream.gs1_link", {"key": key_path, "op": OP_MODIFY}, tenant_id=p.tenant_id)


async def add_link(
    principal: Principal | None,
    key: str,
    *,
    link_type: str,
    href: str,
    title: str = "",
    language: str = "",
    context: str = "",
    media_type: str = "",
    is_default: bool | None = None,
) -> LinkInfo:
    p = await require_active(principal)
    key_path = await owned_key_path(p, key)
    try:
        async with tenant_transaction(p.tenant_id):
            link_id = await insert_link(
                p,
                key_path,
                link_type=link_type,
                href=href,
                title=title,
                language=language,
                context=context,
                media_type=media_type,
                is_default=is_default,
            )
            await _audit(p, "gs1_link.add", key_path, {"link_type": link_type, "href": href})
    except Conflict:
        raise
    except Exception as exc:
        if db.is_unique_violation(exc):
            raise Conflict(f"{key_path} already has that link; update it instead") from None
        raise
    await get_bus().publish(f"gs1:{primary_path(key_path)}")
    return await get_link(p, link_id)


async def get_link(principal: Principal | None, link_id: int) -> LinkInfo:
    p = require(principal, "read")
    async with tenant_transaction(p.tenant_id, write=False):
        row = (
            await GS1Link.select()
            .where((GS1Link.tenant_id == p.tenant_id) & (GS1Link.id == link_id))
            .first()
        )
    if row is None:
        raise NotFound(f"no GS1 link {link_id} in this tenant", field="id")
    return _info(row)


async def update_link(
    principal: Principal | None, link_id: int, changes: dict[str, Any]
) -> LinkInfo:
    """Change some fields of a link; ``is_default: true`` moves the default to it."""
    p = await require_active(principal)
    current = await get_link(p, link_id)
    merged = {
        "link_type": changes.get("link_type", current.link_type),
        "href": changes.get("href", current.href),
        "title": changes.get("title", current.title),
        "language": changes.get("language", current.language),
        "context": changes.get("context", current.context),
        "media_type": changes.get("media_type", current.media_type),
    }
    fields = clean_fields(**merged)
    try:
        async with tenant_transaction(p.tenant_id):
            where = (GS1Link.tenant_id == p.tenant_id) & (GS1Link.key_path == current.key)
            if changes.get("is_default") is True:
                await GS1Link.update({GS1Link.is_default: False}).where(where)
            update: dict[Any, Any] = {getattr(GS1Link, k): v for k, v in fields.items()}
            update[GS1Link.updated_at] = datetime.now(UTC)
            if changes.get("is_default") is True:
                update[GS1Link.is_default] = True
            elif changes.get("is_default") is False and current.is_default:
                raise InvalidValue(
                    "is_default: a key path keeps exactly one default link; make another "
                    "link the default instead",
                    field="is_default",
                )
            await GS1Link.update(update).where(
                (GS1Link.tenant_id == p.tenant_id) & (GS1Link.id == link_id)
            )
            await _sync_handle(p, current.key)
            await _audit(p, "gs1_link.update", current.key, {"id": link_id, **fields})
    except (Conflict, InvalidValue):
        raise
    except Exception as exc:
        if db.is_unique_violation(exc):
            raise Conflict(
                f"{current.key} already has a link with that type, language, context and media type"
            ) from None
        raise
    await get_bus().publish(f"gs1:{primary_path(current.key)}")
    return await get_link(p, link_id)


async def delete_link(principal: Principal | None, link_id: int) -> LinkInfo:
    p = await require_active(principal)
    current = await get_link(p, link_id)
    async with tenant_transaction(p.tenant_id):
        await GS1Link.delete().where((GS1Link.tenant_id == p.tenant_id) & (GS1Link.id == link_id))
        await _ensure_default(p, current.key)
        await _sync_handle(p, current.key)
        await _audit(p, "gs1_link.delete", current.key, {"id": link_id})
    await get_bus().publish(f"gs1:{primary_path(current.key)}")
    return current


async def list_links(principal: Principal | None, key: str | None = None) -> list[LinkInfo]:
    """The tenant's links, for one key path or all of them."""
    p = require(principal, "read")
    query = GS1Link.select().where(GS1Link.tenant_id == p.tenant_id)
    if key is not None:
        query = query.where(GS1Link.key_path == gs1_path(key).canonical_path())
    async with tenant_transaction(p.tenant_id, write=False):
        rows = await query.order_by(GS1Link.key_path).order_by(GS1Link.id)
    return [_info(r) for r in rows]
