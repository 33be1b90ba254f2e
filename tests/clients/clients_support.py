"""Machine-client fixtures: HTTP clients on the app from a chosen source address (the
token endpoint refuses plain HTTP except on loopback, as OAuth 2.0 requires TLS), and a
tenant's OAuth2 client with a helper that asks for a token."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest


@dataclass
class MachineClient:
    client_id: str
    secret: str
    prefix: str

    def basic(self) -> tuple[str, str]:
        return (self.client_id, self.secret)


async def make_client(
    prefix: str, scopes: str = "read", allowed_ips: tuple[str, ...] = ()
) -> MachineClient:
    from tenants.clients.services.clients import create_client

    secret, info = await create_client(
        prefix, name="erp", scopes=scopes, allowed_ips=allowed_ips, actor="test"
    )
    return MachineClient(info.client_id, secret, prefix)


async def token_for(http: httpx.AsyncClient, c: MachineClient, **form: str) -> str:
    r = await http.post(
        "/oauth/token", data={"grant_type": "client_credentials", **form}, auth=c.basic()
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def from_address(client: Any, app: Any) -> AsyncIterator[Callable[..., Any]]:
    """``async with from_address("10.0.0.5") as http`` (the app's lifespan is running)."""

    @asynccontextmanager
    async def open_client(address: str = "127.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            yield c

    yield open_client


@pytest.fixture
async def local(from_address: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    from core.throttle import limiter, reset_limiter

    reset_limiter()  # a limiter from another test holds that test's event loop
    await limiter().storage.reset()
    async with from_address("127.0.0.1") as c:
        yield c
    reset_limiter()
