"""What a partner may see of an owner's record: the one answer every door asks for.

``grants_for(owner, principal)`` is the owner's live grants to the principal's tenant
(those naming another client of it left out), or None when there are none. It reads the
owner's rows under the owner's tenancy: it is the owner's record being read, and the
owner's grant that allows it, so no policy has to let a partner read another tenant's
table. ``GrantSet.reveal`` applies them: the public values, and the restricted values the
grants name: every value of a handle whose suffix matches a pattern or which declares a
granted template at index 1001, and values of a granted type. Credentials (HS_SECKEY)
are never revealed.

Only authenticated callers of another tenant get here; anonymous and owner reads never
do, so the public cache-hit path costs nothing more. The grant set of (owner, partner)
is cached in process when the invalidation bus is shared by every process (Redis): a
create or revoke publishes ``grant:<owner>:<partner>`` and every process drops the entry
before its next request. With an in-process bus only (the embedded profile, where the
CLI is another process) nothing is cached, and each such read costs one indexed query.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from core.auth import Principal
from core.bus import FLUSH_ALL, RedisInvalidationBus, get_bus
from core.identifiers import fold
from core.settings import get_settings
from core.tenancy import tenant_transaction
from core.values import HandleValue, type_matches
from tenants.grants.services.grants import NEVER_GRANTED_TYPES
from tenants.grants.tables import Grant
from tenants.templates.services.templates import TEMPLATE_INDEX

_MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class Rule:
    kind: str
    selector: str
    client_id: str


def _suffix(handle: str) -> str:
    return fold(handle.partition("/")[2])


def _declared_template(values: Iterable[HandleValue]) -> str | None:
    for v in values:
        if v.index == TEMPLATE_INDEX and v.data.format == "string":
            return str(v.data.value).strip().lower()
    return None


def _template_matches(declared: str | None, selector: str) -> bool:
    if declared is None:
        return False
    wanted = selector.strip().lower()
    if "@" in wanted:
        code, _, version = wanted.partition("@")
        return declared in (wanted, f"{code}@{version.lstrip('v')}")
    return declared.partition("@")[0] == wanted


@dataclass(frozen=True, slots=True)
class GrantSet:
    """The live grants from one owner that apply to one principal."""

    rules: tuple[Rule, ...]

    def _whole(self, handle: str, values: Sequence[HandleValue]) -> bool:
        suffix = _suffix(handle)
        declared = _declared_template(values)
        for r in self.rules:
            if r.kind == "pattern" and fnmatchcase(suffix, fold(r.selector)):
                return True
            if r.kind == "template" and _template_matches(declared, r.selector):
                return True
        return False

    def _types(self) -> list[str]:
        return [r.selector for r in self.rules if r.kind == "type"]

    def granted(self, handle: str, v: HandleValue, whole: bool) -> bool:
        if v.type.lower() in NEVER_GRANTED_TYPES:
            return False
        return whole or any(type_matches(v.type, t) for t in self._types())

    def reveal(self, handle: str, values: Sequence[HandleValue]) -> list[HandleValue]:
        """The public values and the granted restricted ones, in the record's order."""
        whole = self._whole(handle, values)
        return [v for v in values if v.public_read or self.granted(handle, v, whole)]

    def covers(self, handle: str, values: Sequence[HandleValue]) -> bool:
        """Whether any grant names this record (a search shows a partner only these)."""
        if self._whole(handle, values):
            return True
        types = self._types()
        return bool(types) and any(
            any(type_matches(v.type, t) for t in types)
            for v in values
            if v.type.lower() not in NEVER_GRANTED_TYPES
        )


class _GrantCache:
    """(owner id, partner id) -> the live rules, while a shared bus keeps it honest."""

    def __init__(self) -> None:
        self._entries: dict[tuple[int, int], tuple[float, tuple[Rule, ...]]] = {}
        self._subscribed_to: object | None = None
        self.generation = 0
        self.loads = 0

    def _bus(self) -> RedisInvalidationBus | None:
        bus = get_bus()
        if self._subscribed_to is not bus:
            bus.subscribe(self.on_invalidate)
            self._subscribed_to = bus
            self._entries.clear()
        return bus if isinstance(bus, RedisInvalidationBus) else None

    def on_invalidate(self, message: str) -> None:
        self.generation += 1
        if message == FLUSH_ALL or message.startswith("tenant:"):
            self._entries.clear()
        elif message.startswith("grant:"):
            owner, _, partner = message[6:].partition(":")
            if owner.isdigit() and partner.isdigit():
                self._entries.pop((int(owner), int(partner)), None)
            else:
                self._entries.clear()

    async def rules(self, owner_id: int, partner_id: int) -> tuple[Rule, ...]:
        bus = self._bus()
        shared = bus is not None
        if bus is not None:
            bus.drain()  # a revocation already sent is applied before this read
            shared = bus.connected
        key = (owner_id, partner_id)
        if shared:
            hit = self._entries.get(key)
            if hit is not None and hit[0] >= time.monotonic():
                return hit[1]
        generation = self.generation
        rules = await _load(owner_id, partner_id)
        self.loads += 1
        if shared and generation == self.generation:
            if len(self._entries) >= _MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (time.monotonic() + get_settings().auth_cache_ttl, rules)
        return rules

    def clear(self) -> None:
        self._entries.clear()


cache = _GrantCache()


async def _load(owner_id: int, partner_id: int) -> tuple[Rule, ...]:
    async with tenant_transaction(owner_id, write=False):
        rows = (
            await Grant.select(Grant.kind, Grant.selector, Grant.client_id)
            .where(
                (Grant.tenant_id == owner_id)
                & (Grant.partner_id == partner_id)
                & Grant.revoked_at.is_null()
            )
            .order_by(Grant.id)
            .run()
        )
    return tuple(Rule(r["kind"], r["selector"], r["client_id"]) for r in rows)


def is_partner(owner_id: int, principal: Principal | None) -> bool:
    """A caller of another tenant (never staff, never the owner's own)."""
    return (
        principal is not None
        and not principal.is_staff
        and principal.tenant_id is not None
        and principal.tenant_id != owner_id
    )


async def grants_for(owner_id: int, principal: Principal | None) -> GrantSet | None:
    """The owner's live grants that apply to this principal, or None."""
    if principal is None or principal.tenant_id is None or not is_partner(owner_id, principal):
        return None
    rules = await cache.rules(owner_id, principal.tenant_id)
    mine = tuple(r for r in rules if not r.client_id or r.client_id == principal.client_id)
    return GrantSet(mine) if mine else None
