"""Behind a load balancer: the per-source rate limit counts the client a trusted proxy
names in X-Forwarded-For, never an address a client wrote itself."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from core.proxy import ForwardedFor, ForwardedScheme, forwarded_client, trusted_networks
from core.ratelimit import Limits
from core.ratelimit_gate import RateLimitGate
from core.settings import Settings

pytestmark = pytest.mark.anyio
LB = "10.0.0.5"  # the balancer, as the node sees it


def _app(trusted: str) -> tuple[Any, list[tuple[str, str]]]:
    settings = Settings(redis_url="", trusted_proxies=trusted,  # type: ignore[arg-type]
                        rate_limit_anonymous="3/minute")  # fmt: skip
    seen: list[tuple[str, str]] = []

    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append((scope["client"][0], scope["scheme"]))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    gate = RateLimitGate(ForwardedScheme(inner, settings), Limits(settings), lambda p: False)
    return ForwardedFor(gate, settings), seen


async def _statuses(app: Any, forwarded: str, n: int) -> list[int]:
    transport = httpx.ASGITransport(app=app, client=(LB, 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://node") as http:
        headers = {"X-Forwarded-For": forwarded, "X-Forwarded-Proto": "https"}
        return [(await http.get("/api/handles/88.100.1/X", headers=headers)).status_code
                for _ in range(n)]  # fmt: skip


async def test_clients_behind_a_trusted_balancer_are_counted_apart():
    app, seen = _app(f"{LB}/32")
    assert await _statuses(app, "203.0.113.1", 4) == [200, 200, 200, 429]
    assert await _statuses(app, "203.0.113.2", 1) == [200]  # another client, its own budget
    assert seen[0] == ("203.0.113.1", "https")  # and the scheme is still the proxy's word


async def test_an_address_a_client_wrote_itself_is_not_believed():
    app, seen = _app(f"{LB}/32")
    # The client sent "X-Forwarded-For: 198.51.100.7"; the balancer appended what it saw.
    assert await _statuses(app, "198.51.100.7, 203.0.113.9", 4) == [200, 200, 200, 429]
    assert await _statuses(app, "198.51.100.8, 203.0.113.9", 1) == [429]  # same real client
    assert {client for client, _ in seen} == {"203.0.113.9"}


async def test_without_trusted_proxies_the_header_is_ignored():
    app, seen = _app("")
    assert await _statuses(app, "203.0.113.1", 3) == [200, 200, 200]
    assert await _statuses(app, "203.0.113.2", 1) == [429]  # one budget: the balancer's
    assert {client for client, _ in seen} == {LB} and {s for _, s in seen} == {"http"}


def test_the_chain_is_walked_from_the_right_past_trusted_hops():
    trusted = trusted_networks("10.0.0.0/8, 2001:db8::/32")
    hdr = [(b"x-forwarded-for", b"198.51.100.1, 203.0.113.4:5123, 10.1.2.3, [2001:db8::9]:80")]
    assert forwarded_client(hdr, trusted) == "203.0.113.4"
    assert forwarded_client([(b"x-forwarded-for", b"10.0.0.1, 10.0.0.2")], trusted) is None
    assert forwarded_client([(b"x-forwarded-for", b"not-an-ip")], trusted) is None
    assert forwarded_client([], trusted) is None
    two = [(b"x-forwarded-for", b"203.0.113.1"), (b"x-forwarded-for", b"203.0.113.2")]
    assert forwarded_client(two, trusted) == "203.0.113.2"
