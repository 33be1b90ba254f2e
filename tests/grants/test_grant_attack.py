"""The attack suite's grant half: tenant A holds every kind of credential and one grant
from B (pattern ``GRANT-<tag>*``, tests/isolation/isolation_world.py). The every-route
suite (tests/isolation/test_every_route.py) runs every route, page and wire operation
with that grant in place and finds no leak of B's data; this suite checks that the grant
reveals exactly what it names, on every door and with every credential, and nothing once
revoked.

On each door A's credentials that door reads (API key, Handle Basic with A's own secret,
SNMS token, OAuth2 token, A's wire identity) see the granted value of the granted handle, never its
key material, and nothing restricted on B's other handles; nobody, and A's secret
presented as B's admin, see nothing restricted at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from isolation_world import A_SECKEY, World, build_world

pytestmark = pytest.mark.anyio
HTTP_KINDS = ("anon", "key", "basic", "forged", "snms", "oauth")
# The credentials each door reads (an SNMS token is for the SNMS API and search only).
MAY_READ = {
    "rest": {"key", "basic", "oauth"},
    "proxy": {"key", "basic", "oauth"},
    "snms": {"key", "basic", "snms", "oauth"},
    "search": {"key", "basic", "snms", "oauth"},
}


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def stage() -> AsyncIterator[tuple[Any, httpx.AsyncClient, World]]:
    from asgi_lifespan import LifespanManager

    from core.bus import set_bus
    from portal.app import create_app

    set_bus(None)
    app = create_app()
    async with LifespanManager(app, startup_timeout=30):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
            yield app, c, await build_world(c)
    set_bus(None)


def restricted(w: World, text: str) -> set[str]:
    """Which of B's restricted markers a text shows, by name."""
    names = {w.b["mark_granted"]: "granted"}
    names.update({m: "secret" for m in w.secrets})
    return {name for m, name in names.items() if m in text}


def doors(w: World) -> dict[str, tuple[str, str]]:
    """Door -> (URL of the granted handle, URL of B's ungranted handle with a secret)."""
    granted, other = w.b["granted_handle"], w.b["handle"]
    return {
        "rest": (f"/api/handles/{granted}?publicOnly=false",
                 f"/api/handles/{other}?publicOnly=false"),
        "proxy": (f"/{granted}?noredirect&publicOnly=false",
                  f"/{other}?noredirect&publicOnly=false"),
        "snms": (f"/identityv2/data/detail?handle={granted}",
                 f"/identityv2/data/detail?handle={other}"),
        "search": (f"/api/search?owner={w.b_prefix}&q=GRANT",
                   f"/api/search?owner={w.b_prefix}&q={w.b['suffix']}"),
    }  # fmt: skip


async def test_the_grant_reveals_exactly_what_it_names_on_every_http_door(stage):
    _app, c, w = stage
    found = []
    for door, (granted_url, other_url) in doors(w).items():
        for kind in HTTP_KINDS:
            for accept in ("application/json", "text/html"):
                headers = {**w.headers(kind), "Accept": accept}
                r = await c.get(granted_url, headers=headers)
                want = {"granted"} if kind in MAY_READ[door] else set()
                got = restricted(w, r.text)
                if got != want:
                    found.append(f"{door} {kind} {accept}: granted handle shows {got or 'nothing'}"
                                 f", not {want or 'nothing'} ({r.status_code})")  # fmt: skip
                r = await c.get(other_url, headers=headers)
                if restricted(w, r.text):
                    found.append(f"{door} {kind}: B's ungranted handle shows "
                                 f"{restricted(w, r.text)}")  # fmt: skip
                if r.status_code >= 500:
                    found.append(f"{door} {kind}: {r.status_code}")
    assert not found, "\n".join(found)


async def test_the_grant_reveals_exactly_what_it_names_on_the_wire(stage):
    from test_every_route import free_port

    from core.settings import get_settings
    from resolver.wire import bodies
    from resolver.wire.adminclient import Credential, request
    from resolver.wire.constants import DEFAULT_REQUEST_FLAGS, OpCode, OpFlag
    from resolver.wire.listener import WireListener
    from resolver.wire.server import WireServer

    app, _c, w = stage
    listener = WireListener(WireServer(app.resolver, get_settings()))
    port = free_port()
    await listener.start("127.0.0.1", port)
    creds = {
        "A's identity": Credential(f"{w.a_prefix}/admin", 300, secret=A_SECKEY.encode()),
        "A's secret as B's admin": Credential(f"{w.b_prefix}/admin", 300,
                                              secret=A_SECKEY.encode()),
        "nobody": None,
    }  # fmt: skip
    flags = DEFAULT_REQUEST_FLAGS & ~OpFlag.PUBL
    found = []
    try:
        for who, cred in creds.items():
            for handle, want in ((w.b["granted_handle"], {"granted"}), (w.b["handle"], set())):
                body = bodies.resolution_request_body(handle)
                replies = await request(OpCode.RESOLUTION, body, cred,
                                        server=("127.0.0.1", port), op_flags=flags)  # fmt: skip
                got = restricted(w, repr(replies))
                expected = want if who == "A's identity" else set()
                if got != expected:
                    found.append(f"{who} {handle}: shows {got or 'nothing'}, "
                                 f"not {expected or 'nothing'}")  # fmt: skip
    finally:
        await listener.stop()
    assert not found, "\n".join(found)


async def test_once_revoked_the_grant_reveals_nothing_anywhere(stage):
    _app, c, w = stage
    r = await c.delete(f"/api/grants/{w.b['grant_id']}",
                       headers={"Authorization": f"Bearer {w.b_key}"})  # fmt: skip
    assert r.status_code == 200
    found = []
    for door, (granted_url, _other) in doors(w).items():
        for kind in HTTP_KINDS:
            r = await c.get(granted_url, headers=w.headers(kind))
            if restricted(w, r.text):
                found.append(f"{door} {kind}: still shows {restricted(w, r.text)}")
    assert not found, "\n".join(found)
