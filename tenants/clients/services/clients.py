"""A tenant's OAuth2 machine clients: create (the secret shown once), list, revoke, and
the cached state every token check reads.

A client's secret is ``secrets.token_urlsafe(32)``, stored as a SHA-256 hash: 256 random
bits need no slow hash (as API keys, core/auth.py). A client is looked up by its client
id before its tenant is known (the ``auth`` cross-tenant path).

A token is checked against its client on every use: the client's state (revoked, scopes,
allowed addresses, tenant) is cached per process for ``IDNEST_AUTH_CACHE_TTL`` seconds. A
revocation publishes ``client:<client id>`` on the invalidation bus, which drops it in
every process at once; with no shared bus (the embedded CLI in its own process) the TTL
bounds how long a revoked client's tokens still work.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from core import audit
from core.auth import parse_scopes
from core.bus import FLUSH_ALL, get_bus
from core.errors import InvalidValue, NotFound
from core.settings import get_settings
from core.tenancy import cross_tenant, tenant_transaction
from tenants.accounts.services.tenants import get_by_prefix
from tenants.accounts.tables import CLOSED_STATUSES
from tenants.clients.tables import OAuthClient

CLIENT_PREFIX = "idc_"
# What create_client makes; anything else (a NUL, say, which PostgreSQL refuses) is no client.
CLIENT_ID = re.compile(r"^idc_[0-9a-f]{16}$")
MAX_ALLOWED_NETWORKS = 32
MAX_CLIENTS_PER_TENANT = 1000
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class ClientInfo:
    client_id: str
    tenant_prefix: str
    name: str
    scopes: str
    allowed_ips: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class ClientState:
    """What a token check needs to know of its client, cached."""

    client_id: str
    tenant_id: int
    tenant_prefix: str
    secret_hash: str
    scopes: frozenset[str]
    networks: tuple[Network, ...]
    active: bool  # not revoked, tenant not closed

    def allows(self, address: str | None) -> bool:
        return address_allowed(self.networks, address)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def secret_matches(secret: str, secret_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), secret_hash)


def parse_networks(items: list[str] | tuple[str, ...] | str) -> tuple[Network, ...]:
    """CIDRs (or bare addresses) as networks; InvalidValue naming the bad one."""
    texts = items.split(",") if isinstance(items, str) else [t for i in items for t in i.split(",")]
    texts = [t.strip() for t in texts if t.strip()]
    if len(texts) > MAX_ALLOWED_NETWORKS:
        raise InvalidValue(
            f"at most {MAX_ALLOWED_NETWORKS} allowed networks, got {len(texts)}",
            field="allowed_ips",
        )
    networks = []
    for text in texts:
        try:
            networks.append(ipaddress.ip_network(text[:64], strict=False))
        except ValueError:
            raise InvalidValue(
                f"{text[:64]!r} is not an IP address or CIDR", field="allowed_ips"
            ) from None
    return tuple(networks)


def address_allowed(networks: tuple[Network, ...], address: str | None) -> bool:
    if not networks:
        return True
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in n for n in networks)


class _StateCache:
    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, ClientState | None]] = {}
        self._subscribed_to: object | None = None

    def ensure_subscribed(self) -> None:
        bus = get_bus()
        if self._subscribed_to is not bus:
            bus.subscribe(self.on_invalidate)
            self._subscribed_to = bus

    def on_invalidate(self, message: str) -> None:
        if message == FLUSH_ALL or message.startswith("tenant:"):
            self._entries.clear()
        elif message.startswith("client:"):
            self._entries.pop(message[7:], None)

    def get(self, client_id: str) -> tuple[bool, ClientState | None]:
        hit = self._entries.get(client_id)
        if hit is None or not get_bus().connected or hit[0] < time.monotonic():
            return False, None
        return True, hit[1]

    def put(self, client_id: str, state: ClientState | None) -> None:
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[client_id] = (time.monotonic() + get_settings().auth_cache_ttl, state)


state_cache = _StateCache()


async def client_state(client_id: str) -> ClientState | None:
    """The client's current state, None if there is no such client. Cached."""
    state_cache.ensure_subscribed()
    found, state = state_cache.get(client_id)
    if found:
        return state
    state = None
    if CLIENT_ID.match(client_id):
        async with cross_tenant("auth"):
            row = (
                await OAuthClient.select(
                    OAuthClient.secret_hash,
                    OAuthClient.scopes,
                    OAuthClient.allowed_ips,
                    OAuthClient.revoked_at,
                    OAuthClient.tenant_id.id.as_alias("tenant_id"),
                    OAuthClient.tenant_id.prefix.as_alias("tenant_prefix"),
                    OAuthClient.tenant_id.status.as_alias("tenant_status"),
                )
                .where(OAuthClient.client_id == client_id)
                .first()
                .run()
            )
        if row is not None:
            state = ClientState(
                client_id=client_id,
                tenant_id=row["tenant_id"],
                tenant_prefix=row["tenant_prefix"],
                secret_hash=row["secret_hash"],
                scopes=frozenset(row["scopes"].split(",")),
                networks=parse_networks(row["allowed_ips"]),
                active=row["revoked_at"] is None and row["tenant_status"] not in CLOSED_STATUSES,
            )
    state_cache.put(client_id, state)
    return state


async def create_client(
    tenant_prefix: str,
    *,
    name: str,
    scopes: str = "read",
    allowed_ips: list[str] | tuple[str, ...] = (),
    actor: str,
) -> tuple[str, ClientInfo]:
    """Returns the client secret (shown once) and the stored description."""
    try:
        scope_set = parse_scopes(scopes)
    except ValueError as exc:
        raise InvalidValue(str(exc), field="scopes") from None
    name = name.strip()
    if not name or len(name) > 255 or any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise InvalidValue(
            "a client needs a name of 1 to 255 characters, without control characters",
            field="name",
        )
    networks = parse_networks(allowed_ips)
    tenant = await get_by_prefix(tenant_prefix)
    if tenant.status in CLOSED_STATUSES:
        raise InvalidValue(f"tenant {tenant.prefix} is {tenant.status}", field="tenant")
    client_id = CLIENT_PREFIX + secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    scope_text = ",".join(sorted(scope_set))
    ips = ",".join(str(n) for n in networks)
    async with tenant_transaction(tenant.id):
        count = await OAuthClient.count().where(OAuthClient.tenant_id == tenant.id).run()
        if count >= MAX_CLIENTS_PER_TENANT:
            raise InvalidValue(
                f"a tenant has at most {MAX_CLIENTS_PER_TENANT} clients", field="name"
            )
        await OAuthClient.insert(
            OAuthClient(
                tenant_id=tenant.id,
                client_id=client_id,
                secret_hash=hash_secret(secret),
                name=name,
                scopes=scope_text,
                allowed_ips=ips,
                created_at=now,
            )
        ).run()
        await audit.record(
            actor=actor,
            action="client.create",
            target=client_id,
            tenant_id=tenant.id,
            detail={"name": name, "scopes": scope_text, "allowed_ips": ips},
        )
    await get_bus().publish(f"client:{client_id}")  # drops a cached "no such client"
    return secret, ClientInfo(client_id, tenant.prefix, name, scope_text, ips, now, None)


async def list_clients(tenant_id: int) -> list[ClientInfo]:
    async with tenant_transaction(tenant_id, write=False):
        rows = (
            await OAuthClient.select(
                *OAuthClient.all_columns(), OAuthClient.tenant_id.prefix.as_alias("tenant_prefix")
            )
            .where(OAuthClient.tenant_id == tenant_id)
            .order_by(OAuthClient.id)
            .limit(MAX_CLIENTS_PER_TENANT)
            .run()
        )
    return [
        ClientInfo(
            r["client_id"],
            r["tenant_prefix"],
            r["name"],
            r["scopes"],
            r["allowed_ips"],
            r["created_at"],
            r["revoked_at"],
        )
        for r in rows
    ]


async def revoke_client(tenant_id: int, client_id: str, *, actor: str) -> None:
    """Revoke one of this tenant's clients: its tokens stop working (at once in every
    process sharing the bus). Another tenant's client is simply not found."""
    if not CLIENT_ID.match(client_id):
        raise NotFound(f"no client {client_id[:64]!r} in this tenant", field="client_id")
    async with tenant_transaction(tenant_id):
        row = (
            await OAuthClient.select(OAuthClient.id, OAuthClient.revoked_at)
            .where((OAuthClient.tenant_id == tenant_id) & (OAuthClient.client_id == client_id))
            .first()
            .run()
        )
        if row is None:
            raise NotFound(f"no client {client_id[:64]} in this tenant", field="client_id")
        if row["revoked_at"] is None:
            await (
                OAuthClient.update({OAuthClient.revoked_at: datetime.now(UTC)})
                .where(OAuthClient.id == row["id"])
                .run()
            )
            await audit.record(
                actor=actor, action="client.revoke", target=client_id, tenant_id=tenant_id
            )
    await get_bus().publish(f"client:{client_id}")
