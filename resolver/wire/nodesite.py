"""This node's HS_SITE description and the synthesised ``0.NA/{prefix}`` records.

Why synthesised: a prefix handle says which servers answer for a prefix and who
administers it. For every tenant of this node the answer follows from the settings and
the tenant's prefix, so storing a copy per tenant would only let it go stale.

``0.NA/{prefix}`` carries: index 1 HS_SITE (this node), index 100 HS_ADMIN (the prefix
handle's own admin group at index 200), index 200 HS_VLIST naming the tenant's admin
credential ``300:{prefix}/admin``, which the tenant provisions (HS_SECKEY or HS_PUBKEY).
"""

from __future__ import annotations

import base64
import ipaddress
import logging
import socket
from typing import Any

from core.settings import Settings
from core.values import DEFAULT_TTL, HandleValue, ValueData
from resolver.wire.keys import encode_public_key, server_key

log = logging.getLogger("idnest.wire")

SITE_INDEX = 1
ADMIN_INDEX = 100
ADMIN_GROUP_INDEX = 200
CREDENTIAL_INDEX = 300
_EPOCH = "1970-01-01T00:00:00Z"


def _covers(bind: str, address: str) -> bool:
    """Whether a socket bound to ``bind`` answers on ``address``."""
    if bind in ("", "::", "[::]", "*"):
        return True  # both families (the wire door binds 0.0.0.0 and ::; HTTP dual-stack)
    if bind == "0.0.0.0":
        return ipaddress.ip_address(address).version == 4
    try:
        return ipaddress.ip_address(bind.strip("[]")) == ipaddress.ip_address(address)
    except ValueError:
        return False  # a host name: we cannot tell, so we do not advertise through it


def _is_local(address: str) -> bool:
    """Whether ``address`` is one of this machine's (a socket can be bound to it)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind((address, 0))
    except OSError:
        return False
    return True


def _reaches(bind: str, address: str, configured: bool) -> bool:
    """Whether a listener bound to ``bind`` can be advertised at ``address``: it answers
    there, or ``address`` was configured and is not this machine's (a load balancer's
    or a NAT's public address, which forwards to us)."""
    return _covers(bind, address) or (configured and not _is_local(address))


def wire_bind_host(settings: Settings) -> str:
    return settings.wire_host or settings.host


def _addresses(settings: Settings) -> list[str]:
    """The addresses to advertise: the configured ones, else what the bind reaches."""
    configured = [p.strip() for p in settings.wire_addresses.split(",") if p.strip()]
    if configured:
        return [str(ipaddress.ip_address(text)) for text in configured]
    bind = wire_bind_host(settings).strip("[]")
    if bind in ("", "::", "*"):
        return ["127.0.0.1", "::1"]
    if bind == "0.0.0.0":
        return ["127.0.0.1"]
    try:
        return [str(ipaddress.ip_address(bind))]
    except ValueError:
        return []


def _interfaces(settings: Settings, address: str, configured: bool) -> list[dict[str, Any]]:
    """The interfaces really listening on ``address`` (HTTP: or the configured proxy)."""
    out: list[dict[str, Any]] = []
    # Not tied to IDNEST_WIRE_ENABLED: the wire door may run in `idnest resolver`
    # processes beside an HTTP-only `serve`, with the same settings.
    if _reaches(wire_bind_host(settings), address, configured):
        out += [
            {"query": True, "admin": False, "protocol": "UDP", "port": settings.wire_port},
            {"query": True, "admin": True, "protocol": "TCP", "port": settings.wire_port},
        ]
    # The Handle protocol over HTTP (resolver.hdl_http) is connectionless: queries only.
    # An explicit IDNEST_SITE_HTTP_PORT names a proxy in front of us: trusted as given.
    if settings.site_http_port or _reaches(settings.host, address, configured):
        port = settings.site_http_port or settings.port
        out.append({"query": True, "admin": False, "protocol": "HTTP", "port": port})
    return out


_SITES: dict[tuple[Any, ...], dict[str, Any]] = {}


def _site(settings: Settings) -> dict[str, Any]:
    public = encode_public_key(server_key(settings).public_key())
    key = {"format": "key", "value": base64.b64encode(public).decode("ascii")}
    servers: list[dict[str, Any]] = []
    configured = bool(settings.wire_addresses.strip())
    for address in _addresses(settings):
        interfaces = _interfaces(settings, address, configured)
        if not interfaces:
            log.warning("HS_SITE: nothing listens on %s; not advertised", address)
            continue
        servers.append({"serverId": len(servers) + 1, "address": address, "publicKey": key,
                        "interfaces": interfaces})  # fmt: skip
    return {
        "version": 1,
        "protocolVersion": "2.10",
        "serialNumber": 1,
        "primaryMask": 0x80,
        "hashOption": 0,
        "hashFilter": "",
        "attributes": [{"name": "desc", "value": f"{settings.node_name} ({settings.node_prefix})"}],
        "servers": servers,
    }


def node_site(settings: Settings) -> dict[str, Any]:
    """The HS_SITE JSON (resolver.wire.site form): addresses, ports, protocols, key.

    Only what listens is advertised: an address of this machine that the wire bind does
    not reach gets no UDP/TCP interface, one the HTTP bind does not reach no HTTP
    interface, and an address with neither is left out. A configured address that is
    not this machine's (a load balancer's) is taken as given."""
    key = (settings.wire_addresses, settings.wire_port, settings.port, settings.site_http_port,
           settings.host, settings.wire_host, settings.var_dir,
           settings.wire_key_file, settings.node_name, settings.node_prefix)  # fmt: skip
    site = _SITES.get(key)
    if site is None:
        site = _SITES[key] = _site(settings)
    return site


def prefix_values(settings: Settings, prefix: str) -> list[HandleValue]:
    """The values of ``0.NA/{prefix}`` for a tenant prefix served here."""
    return [
        HandleValue(SITE_INDEX, "HS_SITE", ValueData("site", node_site(settings)),
                    DEFAULT_TTL, _EPOCH, "1110"),
        HandleValue(
            ADMIN_INDEX, "HS_ADMIN",
            ValueData("admin", {"handle": f"0.NA/{prefix}", "index": ADMIN_GROUP_INDEX,
                                "permissions": "111111111111"}),
            DEFAULT_TTL, _EPOCH, "1110",
        ),
        HandleValue(
            ADMIN_GROUP_INDEX, "HS_VLIST",
            ValueData("vlist", [{"handle": f"{prefix}/admin", "index": CREDENTIAL_INDEX}]),
            DEFAULT_TTL, _EPOCH, "1110",
        ),
    ]  # fmt: skip
