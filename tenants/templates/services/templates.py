"""Metadata templates (标识模板): what the values of a record at index >= 2000 mean.

Core and industry templates belong to the node (seeded from ``templates_seed.json``, later
synced from the top-level node, editable by staff); a tenant extends one with its own
items. Every edit writes a new version row and never changes an old one, so a record
that declares ``code@version`` at index 1001 keeps validating against that version.
Items are disabled (``state`` 0), never deleted.

A record names its template at index 1001 as ``code@version`` (or ``code``, meaning the
latest version, which is then written back as ``code@version``).
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core import audit, db
from core.errors import Conflict, InvalidValue, NotFound
from core.limits import MAX_INDEX, bounded_int
from core.tenancy import cross_tenant, tenant_transaction
from tenants.templates.services.industry import check_industry
from tenants.templates.services.items import (
    Item,
    item_error,
    parse_items,
)
from tenants.templates.tables import MetadataTemplate

TEMPLATE_INDEX = 1001
SEED_FILE = Path(__file__).parent.parent / "templates_seed.json"
_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Template:
    id: int
    tenant_id: int | None
    code: str
    version: int
    name: str
    kind: str
    industry: tuple[str, str, str, str]
    carrier_type: int
    extends: str
    items: tuple[Item, ...]
    created_at: datetime
    # Derived once: every registered row checks its indices against it.
    item_indices: frozenset[int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "item_indices", frozenset(i.index for i in self.items))

    @property
    def ref(self) -> str:
        return f"{self.code}@{self.version}"

    def to_snms(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "code": self.code,
            "name": self.name,
            "version": self.ref,
            "kind": self.kind,
            "industryCategory": self.industry[0],
            "industrySpecific": self.industry[1],
            "industryTrade": self.industry[2],
            "industrySubclass": self.industry[3],
            "type": self.carrier_type,
            "extends": self.extends,
            "items": [i.to_json() for i in self.items],
            "createdAt": self.created_at.isoformat(),
        }


def _from_row(row: dict[str, Any]) -> Template:
    items = tuple(parse_items(json.loads(row["items"])))
    industry = (
        row["industry_category"],
        row["industry_specific"],
        row["industry_trade"],
        row["industry_subclass"],
    )
    return Template(
        row["id"],
        row["tenant_id"],
        row["code"],
        row["version"],
        row["name"],
        row["kind"],
        industry,
        row["carrier_type"],
        row["extends"],
        items,
        row["created_at"],
    )


def split_ref(ref: str) -> tuple[str, int | None]:
    code, sep, version = ref.strip().partition("@")
    if not _CODE.match(code):
        raise InvalidValue(f"template {ref!r}: a template is named code or code@version")
    if not sep:
        return code, None
    version = version.lstrip("vV")
    if not version.isascii() or not version.isdigit():
        raise InvalidValue(f"template {ref!r}: the version after '@' must be a number")
    # A version is a 32-bit column: a longer number is refused before any query.
    return code, bounded_int(version, field="template", low=0, high=MAX_INDEX)


# Version rows never change, so code@version -> Template may be cached for ever.
_cache: dict[tuple[int, str, int], Template] = {}


def _owned_by(owner: int) -> Any:
    """Rows of one owner: a tenant's id, or 0 for the node (``tenant_id`` null)."""
    if owner:
        return MetadataTemplate.tenant_id == owner
    return MetadataTemplate.tenant_id.is_null()


def _reading(owner: int | None) -> Any:
    """A tenant's templates are read in its scope; the node's are readable by all."""
    return tenant_transaction(owner, write=False) if owner else contextlib.nullcontext()


async def _rows(owner: int, code: str, version: int | None) -> dict[str, Any] | None:
    query = MetadataTemplate.select().where(_owned_by(owner) & (MetadataTemplate.code == code))
    if version is not None:
        query = query.where(MetadataTemplate.version == version)
    async with _reading(owner):
        return await query.order_by(MetadataTemplate.version, ascending=False).first().run()


async def get_template(tenant_id: int | None, ref: str) -> Template:
    """The tenant's own template of that code, else the node's. NotFound names the ref."""
    code, version = split_ref(ref)
    owners = [tenant_id, 0] if tenant_id else [0]
    for owner in owners:
        if version is not None and (owner, code, version) in _cache:
            return _cache[(owner, code, version)]
        row = await _rows(owner, code, version)
        if row is not None:
            template = _from_row(row)
            _cache[(owner, code, template.version)] = template
            return template
    raise NotFound(f"there is no template {ref!r}", field="templateVersion")


async def versions(owner_tenant: int | None, code: str) -> list[Template]:
    """Every version of one template of one owner (the node when None), oldest first."""
    async with _reading(owner_tenant):
        rows = (
            await MetadataTemplate.select()
            .where(_owned_by(owner_tenant or 0) & (MetadataTemplate.code == code))
            .order_by(MetadataTemplate.version)
            .run()
        )
    return [_from_row(r) for r in rows]


async def list_templates(
    tenant_id: int | None, *, code: str | None = None, version: int | None = None
) -> list[Template]:
    """Node templates and the tenant's own; the latest version of each unless asked."""
    mine: Any = MetadataTemplate.tenant_id.is_null()
    if tenant_id:
        mine = mine | (MetadataTemplate.tenant_id == tenant_id)
    query = MetadataTemplate.select().where(mine)
    if code:
        query = query.where(MetadataTemplate.code == code)
    if version is not None:
        query = query.where(MetadataTemplate.version == version)
    async with _reading(tenant_id):
        rows = await query.order_by(MetadataTemplate.id).run()
    out: dict[tuple[int, str], Template] = {}
    for row in rows:
        t = _from_row(row)
        key = (row["tenant_id"] or 0, t.code)
        if version is not None or key not in out or out[key].version < t.version:
            out[key] = t
    return sorted(out.values(), key=lambda t: (t.tenant_id or 0, t.code, t.version))


def _keep_history(previous: Template | None, items: list[Item]) -> None:
    """Items are disabled, never deleted: every earlier idIndex must still be there."""
    if previous is None:
        return
    now = {i.index: i for i in items}
    for old in previous.items:
        if old.index not in now:
            raise InvalidValue(
                f"item {old.name!r} (idIndex {old.index}) cannot be deleted; "
                "set its state to 0 to disable it",
                field="items",
            )


async def save_template(
    *,
    owner_tenant: int | None,
    code: str,
    body: dict[str, Any],
    actor: str,
    kind: str | None = None,
    idempotency: Any = None,
    expect_latest: int | None = None,
) -> Template:
    """Write the next version of a template (version 1 if new). Node templates have
    ``owner_tenant`` None (staff, seed, top-level sync); tenants extend with ``extends``.
    ``idempotency`` (an Idempotency guard) makes a retried request answer the version it
    wrote instead of writing another. ``expect_latest`` is the version an editor started
    from (0 for a new template): if another version was written meanwhile the save is a
    Conflict, rather than a new version that silently drops the other editor's change."""
    if not _CODE.match(code):
        raise InvalidValue(
            f"template code {code!r} must be a letter then letters/digits/_-", field="code"
        )
    own = parse_items(body.get("items", []))
    extends = str(body.get("extends") or "")
    base: Template | None = None
    if extends:
        base = await get_template(owner_tenant, extends)
        if base.tenant_id is not None and base.tenant_id != owner_tenant:
            raise NotFound(f"there is no template {extends!r}", field="extends")
        extends = base.ref
        base_idx = {i.index for i in base.items}
        clash = [i for i in own if i.index in base_idx and not _same_base(i, base)]
        if clash:
            raise item_error(
                f"item {clash[0].name!r}", f"idIndex {clash[0].index} belongs to {extends}"
            )
        own = sorted(
            {**{i.index: i for i in base.items}, **{i.index: i for i in own}}.values(),
            key=lambda i: i.index,
        )
    if not own:
        raise InvalidValue("a template needs at least one item", field="items")
    industry = check_industry(body if base is None else {**_industry_json(base), **body})
    kind = kind or ("tenant" if owner_tenant else str(body.get("kind") or "industry"))
    carrier = body.get("type", body.get("carrierType", base.carrier_type if base else 2))
    if carrier not in (1, 2):
        raise InvalidValue("type (carrier type) must be 1 (active carrier) or 2", field="type")
    fields = {
        "tenant_id": owner_tenant,
        "code": code,
        "kind": kind,
        "industry_category": industry[0],
        "industry_specific": industry[1],
        "industry_trade": industry[2],
        "industry_subclass": industry[3],
        "carrier_type": carrier,
        "extends": extends,
        "items": json.dumps([i.to_json() for i in own], ensure_ascii=False),
        "created_by": actor,
    }
    try:
        return await _insert_version(
            fields, str(body.get("name") or ""), own, idempotency, expect_latest
        )
    except Exception as exc:
        # Two editors saving the same next version at once: the second loses the unique
        # key. With an idempotency guard the caller replays on exactly this error instead.
        if idempotency is None and db.is_unique_violation(exc):
            raise Conflict(
                f"another version of template {code!r} was saved at the same moment; "
                "reload it and try again",
                field="code",
            ) from None
        raise


async def _insert_version(
    fields: dict[str, Any],
    name: str,
    own: list[Item],
    idempotency: Any,
    expect_latest: int | None,
) -> Template:
    code, owner_tenant = fields["code"], fields["tenant_id"]
    scope = tenant_transaction(owner_tenant) if owner_tenant else cross_tenant("node", write=True)
    async with scope:
        if idempotency is not None:
            await idempotency.claim()
        latest = await _rows(owner_tenant or 0, code, None)
        previous = _from_row(latest) if latest else None
        if previous is None and owner_tenant:
            await _refuse_shadowing(code)
        now_at = previous.version if previous else 0
        if expect_latest is not None and now_at != expect_latest:
            raise Conflict(
                f"template {code!r} already exists"
                if expect_latest == 0
                else f"template {code!r} is at version {now_at} now, not {expect_latest}; "
                "reload it and make your change again",
                field="code",
            )
        _keep_history(previous, own)
        version = now_at + 1
        row = (
            await MetadataTemplate.insert(
                MetadataTemplate(
                    **fields,
                    version=version,
                    name=(name or (previous.name if previous else code))[:255],
                    created_at=datetime.now(UTC),
                )
            )
            .returning(*MetadataTemplate.all_columns())
            .run()
        )[0]
        await audit.record(
            actor=fields["created_by"],
            action="template.version",
            target=f"{code}@{version}",
            tenant_id=owner_tenant,
            detail={"items": len(own), "extends": fields["extends"]},
        )
        saved = _from_row(row)
        if idempotency is not None:
            await idempotency.complete({"ref": saved.ref, "tenant": owner_tenant})
    return saved


async def _refuse_shadowing(code: str) -> None:
    """A tenant's template is looked up before the node's, so a tenant template named like
    a node template would silently re-interpret the tenant's records that declare the
    node's ``code@N``. A tenant extends a node template under a code of its own."""
    if await MetadataTemplate.exists().where(_owned_by(0) & (MetadataTemplate.code == code)).run():
        raise InvalidValue(
            f"template code {code!r} is a node template; extend it under a code of your own",
            field="code",
        )


def _same_base(item: Item, base: Template) -> bool:
    """A tenant may restate a base item (e.g. to disable it for itself) under its name."""
    return any(b.index == item.index and b.id_type == item.id_type for b in base.items)


def _industry_json(t: Template) -> dict[str, str]:
    keys = ("industryCategory", "industrySpecific", "industryTrade", "industrySubclass")
    return dict(zip(keys, t.industry, strict=True))


async def seed(path: Path = SEED_FILE, *, actor: str = "seed") -> int:
    """Create node templates from the seed file when their code is not there yet."""
    data = json.loads(path.read_text("utf-8"))  # noqa: ASYNC240 - read once, small
    created = 0
    for body in data["templates"]:
        if (
            await MetadataTemplate.exists()
            .where(_owned_by(0) & (MetadataTemplate.code == body["code"]))
            .run()
        ):
            continue
        try:
            await save_template(
                owner_tenant=None, code=body["code"], body=body, actor=actor, kind=body["kind"]
            )
            created += 1
        except Conflict:
            continue  # another process seeded it at the same moment
        except Exception as exc:
            if not db.is_unique_violation(exc):
                raise
    return created
