"""Creating, revoking and listing grants: the one write path, used by the CLI, the REST API
and the console.

Every create and revoke is audited in its own transaction and published on the
invalidation bus (``grant:<owner id>:<partner id>``), so every process drops its cached
grant set before its next request (tenants.grants.services.access).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core import audit
from core.auth import device_subject
from core.bus import get_bus
from core.errors import Conflict, InvalidValue, NotFound
from core.identifiers import fold, parse_handle
from core.tenancy import tenant_transaction
from tenants.accounts.services.tenants import TenantInfo, find_by_prefix
from tenants.accounts.tables import CLOSED_STATUSES
from tenants.grants.tables import Grant
from tenants.templates.services.templates import get_template, split_ref

KINDS = ("pattern", "template", "type")
# Live grants one owner may hold: each is matched against every value a partner reads.
MAX_LIVE_GRANTS = 1000
MAX_LIST = 1000
# Credentials are never granted: a partner holding A's secret key could act as A.
NEVER_GRANTED_TYPES = frozenset({"hs_seckey"})
_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,127}$")
_CLIENT = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


@dataclass(frozen=True, slots=True)
class GrantInfo:
    grant_id: str
    owner_prefix: str
    partner_prefix: str
    client_id: str
    kind: str
    selector: str
    actor: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def live(self) -> bool:
        return self.revoked_at is None


def grant_message(owner_id: int, partner_id: int) -> str:
    return f"grant:{owner_id}:{partner_id}"


def check_selector(kind: str, selector: str) -> str:
    """The selector as stored, or InvalidValue naming what is wrong with it."""
    selector = selector.strip()
    if kind == "pattern":
        if not _PATTERN.match(selector):
            raise InvalidValue(
                "a pattern is a glob on the identifier suffix (1-255 printable ASCII "
                "characters, e.g. 'P-*')",
                field="pattern",
            )
        return selector
    if kind == "type":
        if not _TYPE.match(selector):
            raise InvalidValue(
                f"{selector!r} is not a value type (letters, digits, '.', '_', '-')", field="type"
            )
        if selector.lower() in NEVER_GRANTED_TYPES:
            raise InvalidValue(f"{selector} values are credentials and are never granted",
                               field="type")  # fmt: skip
        return selector
    if kind == "template":
        split_ref(selector)  # InvalidValue for a malformed ref
        return selector
    raise InvalidValue(f"a grant selects by {', '.join(KINDS)}, not {kind!r}", field="kind")


def _device_subject(client_id: str, partner_prefix: str) -> str:
    """``device:{handle}``, the handle one of the partner's (tenants/devices)."""
    text = client_id.removeprefix("device:")
    try:
        handle = parse_handle(text)
    except Exception:
        raise InvalidValue(f"{text[:64]!r} is not a device handle", field="client") from None
    if len(client_id) > 128 or fold(handle.prefix) != fold(partner_prefix):
        raise InvalidValue(
            f"a grant names a device of the partner: {handle.text[:64]} is not under "
            f"{partner_prefix}", field="client",
        )  # fmt: skip
    return device_subject(handle.key)


async def create_grant(
    owner: TenantInfo,
    partner_prefix: str,
    *,
    kind: str,
    selector: str,
    client_id: str = "",
    actor: str,
) -> GrantInfo:
    """Grant ``partner_prefix`` (or one client of it) read access to what the selector names."""
    selector = check_selector(kind, selector)
    client_id = client_id.strip()
    if client_id and not _CLIENT.match(client_id) and not client_id.startswith("device:"):
        raise InvalidValue(f"{client_id[:64]!r} is not a client id", field="client")
    if owner.status in CLOSED_STATUSES:
        raise InvalidValue(f"tenant {owner.prefix} is {owner.status}", field="tenant")
    partner = await find_by_prefix(partner_prefix.strip()) if len(partner_prefix) <= 255 else None
    if partner is None or partner.status in CLOSED_STATUSES:
        raise NotFound(f"no open tenant has the prefix {partner_prefix[:64]}", field="to")
    if partner.id == owner.id:
        raise InvalidValue("a tenant already sees its own values; grant another tenant",
                           field="to")  # fmt: skip
    if client_id.startswith("device:"):
        client_id = _device_subject(client_id, partner.prefix)
    if kind == "template":
        await get_template(owner.id, selector)  # NotFound names the template
    grant_id = f"grt_{secrets.token_hex(10)}"
    now = datetime.now(UTC)
    async with tenant_transaction(owner.id):
        live = (
            await Grant.count()
            .where((Grant.tenant_id == owner.id) & Grant.revoked_at.is_null())
            .run()
        )
        if live >= MAX_LIVE_GRANTS:
            raise Conflict(f"tenant {owner.prefix} already holds {MAX_LIVE_GRANTS} live grants; "
                           "revoke some first")  # fmt: skip
        await Grant.insert(
            Grant(
                tenant_id=owner.id,
                public_id=grant_id,
                partner_id=partner.id,
                client_id=client_id,
                kind=kind,
                selector=selector,
                actor=actor[:255],
                created_at=now,
            )
        ).run()
        await audit.record(
            actor=actor,
            action="grant.create",
            target=grant_id,
            tenant_id=owner.id,
            detail={
                "to": partner.prefix,
                "client": client_id,
                "kind": kind,
                "selector": selector,
            },
        )
    await get_bus().publish(grant_message(owner.id, partner.id))
    return GrantInfo(grant_id, owner.prefix, partner.prefix, client_id, kind, selector, actor,
                     now, None)  # fmt: skip


async def revoke_grant(owner_id: int, grant_id: str, *, actor: str) -> GrantInfo:
    """Revoke one of the owner's grants. Another tenant's grant id is simply not found."""
    if len(grant_id) > 40:
        raise NotFound("no such grant in this tenant", field="grant_id")
    async with tenant_transaction(owner_id):
        rows = (
            await _select()
            .where((Grant.tenant_id == owner_id) & (Grant.public_id == grant_id))
            .run()
        )
        if not rows:
            raise NotFound(f"no grant {grant_id} in this tenant", field="grant_id")
        row = rows[0]
        if row["revoked_at"] is None:
            now = datetime.now(UTC)
            await (
                Grant.update({Grant.revoked_at: now, Grant.revoked_by: actor[:255]})
                .where(Grant.id == row["id"])
                .run()
            )
            row = {**row, "revoked_at": now}
            await audit.record(actor=actor, action="grant.revoke", target=grant_id,
                               tenant_id=owner_id,
                               detail={"to": row["partner_prefix"]})  # fmt: skip
    await get_bus().publish(grant_message(owner_id, row["partner_id"]))
    return _info(row)


def _select() -> Any:
    return Grant.select(
        *Grant.all_columns(),
        Grant.tenant_id.prefix.as_alias("owner_prefix"),
        Grant.partner_id.prefix.as_alias("partner_prefix"),
    )


def _info(row: dict[str, Any]) -> GrantInfo:
    return GrantInfo(
        row["public_id"],
        row["owner_prefix"],
        row["partner_prefix"],
        row["client_id"],
        row["kind"],
        row["selector"],
        row["actor"],
        row["created_at"],
        row["revoked_at"],
    )


async def list_given(owner_id: int, *, live_only: bool = False) -> list[GrantInfo]:
    """The grants this tenant gave, newest first (at most ``MAX_LIST``)."""
    async with tenant_transaction(owner_id, write=False):
        query = _select().where(Grant.tenant_id == owner_id)
        if live_only:
            query = query.where(Grant.revoked_at.is_null())
        rows = await query.order_by(Grant.id, ascending=False).limit(MAX_LIST).run()
    return [_info(r) for r in rows]


async def list_received(partner_id: int, *, live_only: bool = False) -> list[GrantInfo]:
    """The grants other tenants gave this one: read under the partner's own tenancy,
    which the grants table's partner policy allows (core/tenancy.py ``readable_by``)."""
    async with tenant_transaction(partner_id, write=False):
        query = _select().where(Grant.partner_id == partner_id)
        if live_only:
            query = query.where(Grant.revoked_at.is_null())
        rows = await query.order_by(Grant.id, ascending=False).limit(MAX_LIST).run()
    return [_info(r) for r in rows]
