"""API keys: create (shown once), list, revoke, and authenticate cheaply.

Authentication is on the hot path of every API call, so a verified key is cached in
process as a Principal. A revocation publishes ``key:<id>`` on the invalidation bus,
which drops the entry in every process at once; a short TTL is the backstop for
changes made by another process with no shared bus (the embedded CLI).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from core import audit
from core.auth import Principal, api_key_matches, generate_api_key, parse_scopes, split_api_key
from core.bus import FLUSH_ALL, get_bus
from core.errors import AuthenticationFailed, InvalidValue, NotFound
from core.settings import get_settings
from core.tenancy import cross_tenant, tenant_transaction
from tenants.accounts.services.tenants import get_by_prefix
from tenants.accounts.tables import CLOSED_STATUSES, ApiKey


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    key_id: str
    tenant_prefix: str
    name: str
    scopes: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class _PrincipalCache:
    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, str, Principal]] = {}
        self._subscribed_to: object | None = None
        # key id -> last use (epoch seconds), flushed in batches, never per request.
        self.last_used: dict[str, float] = {}

    def ensure_subscribed(self) -> None:
        bus = get_bus()
        if self._subscribed_to is not bus:
            bus.subscribe(self.on_invalidate)
            self._subscribed_to = bus

    def on_invalidate(self, message: str) -> None:
        if message == FLUSH_ALL or message.startswith("tenant:"):
            self._entries.clear()
        elif message.startswith("key:"):
            key_id = message[4:]
            for plaintext in [k for k, v in self._entries.items() if v[1] == key_id]:
                del self._entries[plaintext]

    def get(self, plaintext: str) -> Principal | None:
        hit = self._entries.get(plaintext)
        if hit is None or not get_bus().connected:
            return None
        if hit[0] < time.monotonic():
            del self._entries[plaintext]
            return None
        return hit[2]

    def put(self, plaintext: str, key_id: str, principal: Principal) -> None:
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[plaintext] = (
            time.monotonic() + get_settings().auth_cache_ttl,
            key_id,
            principal,
        )


principal_cache = _PrincipalCache()


async def create_key(
    tenant_prefix: str, *, scopes: str = "read,write", name: str = "", actor: str = "cli"
) -> tuple[str, ApiKeyInfo]:
    """Returns the plaintext key (shown once) and its stored description."""
    try:
        scope_set = parse_scopes(scopes)
    except ValueError as exc:
        raise InvalidValue(str(exc), field="scopes") from None
    tenant = await get_by_prefix(tenant_prefix)
    if tenant.status in CLOSED_STATUSES:
        raise InvalidValue(f"tenant {tenant.prefix} is {tenant.status}", field="tenant")
    new = generate_api_key()
    now = datetime.now(UTC)
    scope_text = ",".join(sorted(scope_set))
    async with tenant_transaction(tenant.id):
        await ApiKey.insert(
            ApiKey(
                tenant_id=tenant.id,
                key_id=new.key_id,
                secret_hash=new.secret_hash,
                name=name[:255],
                scopes=scope_text,
                created_at=now,
            )
        ).run()
        await audit.record(
            actor=actor,
            action="apikey.create",
            target=new.key_id,
            tenant_id=tenant.id,
            detail={"scopes": scope_text, "name": name},
        )
    return new.plaintext, ApiKeyInfo(new.key_id, tenant.prefix, name, scope_text, now, None, None)


async def list_keys(tenant_id: int) -> list[ApiKeyInfo]:
    async with tenant_transaction(tenant_id, write=False):
        rows = (
            await ApiKey.select(
                *ApiKey.all_columns(), ApiKey.tenant_id.prefix.as_alias("tenant_prefix")
            )
            .where(ApiKey.tenant_id == tenant_id)
            .order_by(ApiKey.id)
            .run()
        )
    return [
        ApiKeyInfo(
            r["key_id"],
            r["tenant_prefix"],
            r["name"],
            r["scopes"],
            r["created_at"],
            r["last_used_at"],
            r["revoked_at"],
        )
        for r in rows
    ]


async def revoke_key(tenant_id: int, key_id: str, *, actor: str) -> None:
    """Revoke one of this tenant's keys. Another tenant's key id is simply not found."""
    async with tenant_transaction(tenant_id):
        row = (
            await ApiKey.select(ApiKey.id, ApiKey.revoked_at)
            .where((ApiKey.tenant_id == tenant_id) & (ApiKey.key_id == key_id))
            .first()
            .run()
        )
        if row is None:
            raise NotFound(f"no API key {key_id} in this tenant", field="key_id")
        if row["revoked_at"] is None:
            await (
                ApiKey.update({ApiKey.revoked_at: datetime.now(UTC)})
                .where(ApiKey.id == row["id"])
                .run()
            )
            await audit.record(
                actor=actor, action="apikey.revoke", target=key_id, tenant_id=tenant_id
            )
    await get_bus().publish(f"key:{key_id}")


async def authenticate_key(plaintext: str) -> Principal:
    """The principal behind an API key, or AuthenticationFailed. Cached."""
    principal_cache.ensure_subscribed()
    cached = principal_cache.get(plaintext)
    if cached is not None:
        principal_cache.last_used[cached.actor[4:]] = time.time()
        return cached
    key_id = split_api_key(plaintext)
    if key_id is None:
        raise AuthenticationFailed("the API key is malformed")
    # Cross-tenant by nature: the key id is all there is until the row names its tenant.
    async with cross_tenant("auth"):
        row = (
            await ApiKey.select(
                ApiKey.secret_hash,
                ApiKey.scopes,
                ApiKey.revoked_at,
                ApiKey.tenant_id.id.as_alias("tenant_id"),
                ApiKey.tenant_id.prefix.as_alias("tenant_prefix"),
                ApiKey.tenant_id.status.as_alias("tenant_status"),
            )
            .where(ApiKey.key_id == key_id)
            .first()
            .run()
        )
    if row is None or not api_key_matches(plaintext, row["secret_hash"]):
        raise AuthenticationFailed("the API key is not known")
    if row["revoked_at"] is not None:
        raise AuthenticationFailed(f"the API key {key_id} has been revoked")
    if row["tenant_status"] == "closed":
        raise AuthenticationFailed(f"tenant {row['tenant_prefix']} is closed")
    principal = Principal(
        actor=f"key:{key_id}",
        tenant_id=row["tenant_id"],
        tenant_prefix=row["tenant_prefix"],
        scopes=frozenset(row["scopes"].split(",")),
    )
    principal_cache.put(plaintext, key_id, principal)
    principal_cache.last_used[key_id] = time.time()
    return principal


async def flush_last_used() -> int:
    """Write the batched last-used times. Called periodically, not per request."""
    pending, principal_cache.last_used = principal_cache.last_used, {}
    if not pending:
        return 0
    async with cross_tenant("maintenance", write=True):
        for key_id, ts in pending.items():
            await (
                ApiKey.update({ApiKey.last_used_at: datetime.fromtimestamp(ts, UTC)})
                .where(ApiKey.key_id == key_id)
                .run()
            )
    return len(pending)
