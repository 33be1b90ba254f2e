"""Portal fixtures: HTTPS clients on the app, with cookie jars (see portal_support)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from portal_support import Web


async def _client(app: Any) -> AsyncIterator[Web]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        yield Web(c)


@pytest.fixture
async def web(client: Any, app: Any) -> AsyncIterator[Web]:
    from portal.web import throttle

    throttle.reset_limiter()
    await throttle.limiter().storage.reset()
    async for w in _client(app):
        yield w


@pytest.fixture
async def web2(client: Any, app: Any) -> AsyncIterator[Web]:
    """A second browser (another person, another cookie jar)."""
    async for w in _client(app):
        yield w
