"""The request's scheme and address as the browser sees them, and cookies that follow it.

Behind a TLS-terminating proxy the server sees plain HTTP; the proxy says the real
scheme in ``X-Forwarded-Proto``. Anyone can send that header, so it is believed only
from the addresses in ``IDNEST_TRUSTED_PROXIES``.

Behind a load balancer every request comes from the balancer's address, so the per-source
rate limits (core/ratelimit.py) would give the whole internet one budget, and audit rows
and OAuth IP allow-lists would name the balancer. ``ForwardedFor`` takes the client from
``X-Forwarded-For``, again only from a trusted proxy: the right-most address that is not
itself a trusted proxy (each proxy appends the address it saw; anything to the left of the
first untrusted hop may have been written by the client).

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


PEER = "idnest.peer"  # the scope key that keeps the proxy's own address


def _address(text: str) -> str | None:
    """One X-Forwarded-For hop as an address: plain, [v6]:port or v4:port forms."""
    text = text.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def forwarded_client(
    headers: list[tuple[bytes, bytes]], trusted: tuple[Network, ...]
) -> str | None:
    """The client address a chain of trusted proxies reports, None when there is none."""
    hops = [
        hop
        for name, value in headers
        if name == b"x-forwarded-for"
        for hop in value.decode("latin-1").split(",")
    ]
    for hop in reversed(hops[-32:]):  # a longer chain than any real one is not walked
        address = _address(hop)
        if address is None:
            return None  # garbage from here leftwards: believe nothing of it
        if not _is_trusted(address, trusted):
            return address
    return None


class ForwardedFor:
    """Outermost layer: the client address from X-Forwarded-For, from trusted proxies."""

    def __init__(self, app: Any, settings: Settings) -> None:
        self.app = app
        self.trusted = trusted_networks(settings.trusted_proxies)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        client = scope.get("client")
        if scope["type"] == "http" and client and _is_trusted(client[0], self.trusted):
            real = forwarded_client(scope["headers"], self.trusted)
            if real is not None:
                scope = {**scope, "client": (real, 0), PEER: client}
        await self.app(scope, receive, send)


class ForwardedScheme:
    def __init__(self, app: Any, settings: Settings) -> None:
        self.app = app
        self.trusted = trusted_networks(settings.trusted_proxies)
        self.follow = settings.cookies_follow_scheme

    def scheme_of(self, scope: dict[str, Any]) -> str:
        client = scope.get(PEER) or scope.get("client")
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
