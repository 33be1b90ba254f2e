"""The request's scheme as the browser sees it, and cookies that follow it.

Behind a TLS-terminating proxy the server sees plain HTTP; the proxy says the real
scheme in ``X-Forwarded-Proto``. Anyone can send that header, so it is believed only
from the addresses in ``IDNEST_TRUSTED_PROXIES``.

Browsers drop a ``Secure`` cookie set over plain HTTP (localhost aside), so a portal
reached at ``http://192.168.1.20:8000`` could never keep its CSRF or session cookie and
every login was a bare 403. When cookies follow the scheme (the embedded default,
``IDNEST_COOKIE_SECURE`` unset), ``Secure`` is dropped from ``Set-Cookie`` on answers
to plain-HTTP requests and kept over HTTPS.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from core.settings import Settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(text: str) -> tuple[Network, ...]:
    return tuple(
        ipaddress.ip_network(p.strip(), strict=False) for p in text.split(",") if p.strip()
    )


def _is_trusted(host: str, networks: tuple[Network, ...]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in n for n in networks)


def _without_secure(value: bytes) -> bytes:
    parts = [p for p in value.split(b";") if p.strip().lower() != b"secure"]
    return b";".join(parts)


class ForwardedScheme:
    def __init__(self, app: Any, settings: Settings) -> None:
        self.app = app
        self.trusted = trusted_networks(settings.trusted_proxies)
        self.follow = settings.cookies_follow_scheme

    def scheme_of(self, scope: dict[str, Any]) -> str:
        client = scope.get("client")
        if self.trusted and client and _is_trusted(client[0], self.trusted):
            for name, value in scope["headers"]:
                if name == b"x-forwarded-proto":
                    # A chain of proxies lists one scheme each; the first is the browser's.
                    proto = value.decode("latin-1").split(",")[0].strip().lower()
                    if proto in ("http", "https"):
                        return proto
        return str(scope.get("scheme", "http"))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scheme = self.scheme_of(scope)
        if scheme != scope.get("scheme"):
            scope = {**scope, "scheme": scheme}
        if not self.follow or scheme == "https":
            await self.app(scope, receive, send)
            return

        async def plain_http(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (n, _without_secure(v) if n.lower() == b"set-cookie" else v)
                    for n, v in message["headers"]
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, plain_http)
