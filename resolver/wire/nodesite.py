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
from typing import Any

from core.settings import Settings
from core.values import DEFAULT_TTL, HandleValue, ValueData
from resolver.wire.keys import encode_public_key, server_key

SITE_INDEX = 1
ADMIN_INDEX = 100
ADMIN_GROUP_INDEX = 200
CREDENTIAL_INDEX = 300
_EPOCH = "1970-01-01T00:00:00Z"


def _addresses(settings: Settings) -> list[str]:
    out = []
    for part in settings.wire_addresses.split(","):
        text = part.strip()
        if text:
            out.append(str(ipaddress.ip_address(text)))
    return out or ["127.0.0.1"]


_SITES: dict[tuple[Any, ...], dict[str, Any]] = {}


def _site(settings: Settings) -> dict[str, Any]:
    public = encode_public_key(server_key(settings).public_key())
    key = {"format": "key", "value": base64.b64encode(public).decode("ascii")}
    interfaces = [
        {"query": True, "admin": False, "protocol": "UDP", "port": settings.wire_port},
        {"query": True, "admin": True, "protocol": "TCP", "port": settings.wire_port},
        # The Handle protocol over HTTP (resolver.hdl_http) is connectionless: queries only.
        {
            "query": True,
            "admin": False,
            "protocol": "HTTP",
            "port": settings.site_http_port or settings.port,
        },
    ]
    return {
        "version": 1,
        "protocolVersion": "2.10",
        "serialNumber": 1,
        "primaryMask": 0x80,
        "hashOption": 0,
        "hashFilter": "",
        "attributes": [{"name": "desc", "value": f"{settings.node_name} ({settings.node_prefix})"}],
        "servers": [
            {"serverId": n, "address": address, "publicKey": key, "interfaces": interfaces}
            for n, address in enumerate(_addresses(settings), start=1)
        ],
    }


def node_site(settings: Settings) -> dict[str, Any]:
    """The HS_SITE JSON (resolver.wire.site form): addresses, ports, protocols, key."""
    key = (settings.wire_addresses, settings.wire_port, settings.port, settings.site_http_port,
           settings.var_dir,
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
