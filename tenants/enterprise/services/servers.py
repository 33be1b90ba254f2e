"""A tenant's own Handle servers: parse, store, switch between delegated and self-deployed.

Why here and not in accounts: the servers are routing, not identity, and they have a
life of their own (entered, reviewed, probed). A tenant is self-deployed exactly when it
has rows here; ``set_delegated`` removes them and the node answers for the prefix again.
Neither switch touches the prefix or the identifiers stored here (a tenant that moves its
data out uses its export, docs/ownership.md).

Every change updates the tenant row (``updated_at``), audits, queues an
``upstream.tenant`` modify (the top-level node's routing entry) and publishes
``tenant:<prefix>``, so every cache that holds the prefix's routing forgets it: with
Redis at once, on the embedded default through the tenant watch (core/tenant_watch.py).
"""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, rsa

from core import audit
from core.bus import get_bus
from core.errors import InvalidValue
from core.handlekeys import encode_public_key
from core.outbox import enqueue
from core.tenancy import tenant_transaction
from tenants.accounts.services.tenants import TenantInfo, get_by_prefix
from tenants.accounts.tables import Tenant
from tenants.enterprise.tables import EnterpriseServer

MAX_SERVERS = 16  # one HS_SITE; hdllib sends a query to one of them, so more buys nothing
PROTOCOLS = ("udp", "tcp", "http")
DEFAULT_PORT = 2641


@dataclass(frozen=True, slots=True)
class Server:
    address: str  # normal form of an IPv4 or IPv6 address
    port: int = DEFAULT_PORT
    protocols: tuple[str, ...] = ("udp", "tcp")
    http_port: int = 0
    public_key: str = ""  # base64 of hdllib's binary key form, or ""

    @property
    def endpoint(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"


def _port(text: str, where: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise InvalidValue(f"{where}: the port must be a number from 1 to 65535", field="servers")
    return int(text)


def parse_endpoint(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[IPv6]:PORT``, or a bare address (port 2641). The host must be an
    IP address: HS_SITE carries addresses, not names."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = _port(rest[1:], text) if rest.startswith(":") else DEFAULT_PORT
        if rest and not rest.startswith(":"):
            raise InvalidValue(f"{text}: expected [IPv6]:PORT", field="servers")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = _port(port_text, text)
    else:
        host, port = text, DEFAULT_PORT  # a bare IPv4, or a bare IPv6 address
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise InvalidValue(
            f"{text}: {host!r} is not an IP address (HS_SITE carries addresses, not names)",
            field="servers",
        ) from None
    if address.is_unspecified or address.is_multicast:
        raise InvalidValue(f"{text}: not a server's address", field="servers")
    return str(address), port


def parse_protocols(text: str) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(p.strip().lower() for p in text.split(",") if p.strip()))
    unknown = [p for p in chosen if p not in PROTOCOLS]
    if unknown or not chosen:
        raise InvalidValue(f"protocols must be some of {', '.join(PROTOCOLS)}", field="protocols")
    return chosen


def encode_key(pem_or_der: bytes) -> str:
    """A PEM or DER public key (RSA or DSA) in hdllib's binary form, base64."""
    try:
        if pem_or_der.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(pem_or_der.lstrip())
        else:
            key = serialization.load_der_public_key(pem_or_der)
    except ValueError:
        raise InvalidValue(
            "the public key is not a PEM or DER public key", field="public_key"
        ) from None
    if not isinstance(key, rsa.RSAPublicKey | dsa.DSAPublicKey):
        raise InvalidValue("the public key must be RSA or DSA", field="public_key")
    return base64.b64encode(encode_public_key(key)).decode("ascii")


def parse_servers(
    text: str, *, protocols: str = "udp,tcp", http_port: int = 0, public_key: str = ""
) -> list[Server]:
    """``HOST:PORT[,HOST:PORT…]`` with the same protocols and key for every server."""
    parts = [p for p in text.split(",") if p.strip()]
    if not parts:
        raise InvalidValue("name at least one server as HOST:PORT", field="servers")
    if len(parts) > MAX_SERVERS:
        raise InvalidValue(f"at most {MAX_SERVERS} servers", field="servers")
    chosen = parse_protocols(protocols)
    if "http" in chosen and not 0 < http_port < 65536:
        raise InvalidValue("the http protocol needs --http-port", field="http_port")
    servers = []
    for part in parts:
        address, port = parse_endpoint(part)
        servers.append(Server(address, port, chosen, http_port if "http" in chosen else 0,
                              public_key))  # fmt: skip
    if len({(s.address, s.port) for s in servers}) != len(servers):
        raise InvalidValue("a server is named twice", field="servers")
    return servers


def site_json(servers: list[Server], prefix: str, serial: int = 1) -> dict[str, Any]:
    """The HS_SITE of a self-deployed tenant, in resolver.wire.site's JSON form."""
    out = []
    for n, s in enumerate(servers, start=1):
        interfaces: list[dict[str, Any]] = []
        if "udp" in s.protocols:
            interfaces.append({"query": True, "admin": False, "protocol": "UDP", "port": s.port})
        if "tcp" in s.protocols:
            interfaces.append({"query": True, "admin": True, "protocol": "TCP", "port": s.port})
        if "http" in s.protocols:
            interfaces.append({"query": True, "admin": False, "protocol": "HTTP",
                               "port": s.http_port})  # fmt: skip
        entry: dict[str, Any] = {"serverId": n, "address": s.address, "interfaces": interfaces}
        entry["publicKey"] = {"format": "key", "value": s.public_key}
        out.append(entry)
    return {
        "version": 1, "protocolVersion": "2.10", "serialNumber": serial, "primaryMask": 0x80,
        "hashOption": 0, "hashFilter": "",
        "attributes": [{"name": "desc", "value": f"self-deployed enterprise node {prefix}"}],
        "servers": out,
    }  # fmt: skip


def _row(row: dict[str, Any]) -> Server:
    return Server(
        address=row["address"], port=row["port"],
        protocols=tuple(p for p in row["protocols"].split(",") if p),
        http_port=row["http_port"], public_key=row["public_key"],
    )  # fmt: skip


async def servers_of(tenant_id: int) -> list[Server]:
    """The tenant's servers in order; empty for a delegated tenant."""
    async with tenant_transaction(tenant_id, write=False):
        rows = await (
            EnterpriseServer.select()
            .where(EnterpriseServer.tenant_id == tenant_id)
            .order_by(EnterpriseServer.server_id)
            .run()
        )
    return [_row(r) for r in rows]


async def _replace(tenant: TenantInfo, servers: list[Server], *, actor: str, action: str) -> None:
    now = datetime.now(UTC)
    async with tenant_transaction(tenant.id):
        before = await EnterpriseServer.count().where(EnterpriseServer.tenant_id == tenant.id)
        await EnterpriseServer.delete().where(EnterpriseServer.tenant_id == tenant.id)
        if servers:
            await EnterpriseServer.insert(*[
                EnterpriseServer(tenant_id=tenant.id, server_id=n, address=s.address,
                                 port=s.port, protocols=",".join(s.protocols),
                                 http_port=s.http_port, public_key=s.public_key, created_at=now)
                for n, s in enumerate(servers, start=1)
            ])  # fmt: skip
        # The tenant row changes too: the tenant watch flushes caches on it (embedded).
        await Tenant.update({Tenant.updated_at: now}).where(Tenant.id == tenant.id)
        await audit.record(
            actor=actor, action=action, target=tenant.prefix, tenant_id=tenant.id,
            detail={"servers": [s.endpoint for s in servers], "before": before},
        )  # fmt: skip
        await enqueue(
            "upstream.tenant",
            {"prefix": tenant.prefix, "op": "routing",
             "deployment": "self" if servers else "delegated",
             "servers": [s.endpoint for s in servers]},
            tenant_id=tenant.id,
        )  # fmt: skip
    await get_bus().publish(f"tenant:{tenant.prefix}")


async def set_servers(prefix: str, servers: list[Server], *, actor: str) -> TenantInfo:
    """Make the tenant self-deployed with these servers (replacing any it had)."""
    if not servers:
        raise InvalidValue("name at least one server (or make the tenant delegated)",
                           field="servers")  # fmt: skip
    tenant = await get_by_prefix(prefix)
    await _replace(tenant, servers, actor=actor, action="tenant.servers")
    return tenant


async def set_delegated(prefix: str, *, actor: str) -> TenantInfo:
    """Make the tenant delegated again: this node answers for its prefix."""
    tenant = await get_by_prefix(prefix)
    await _replace(tenant, [], actor=actor, action="tenant.delegated")
    return tenant


async def every_self_deployed(
    statuses: tuple[str, ...] = ("active",),
) -> list[tuple[str, list[Server]]]:
    """Every self-deployed tenant's prefix and servers, of tenants in ``statuses`` (the
    prober's, staff's and the upstream cadence's cross-tenant read)."""
    from core.tenancy import cross_tenant

    async with cross_tenant("maintenance"):
        rows = await EnterpriseServer.select().order_by(EnterpriseServer.id).run()
        tenants = {
            t["id"]: t["prefix"]
            for t in await Tenant.select(Tenant.id, Tenant.prefix)
            .where(Tenant.status.is_in(list(statuses)))
            .run()
        }
    found: dict[str, list[Server]] = {}
    for row in rows:
        prefix = tenants.get(row["tenant_id"])
        if prefix is not None:
            found.setdefault(prefix, []).append(_row(row))
    return sorted(found.items())
