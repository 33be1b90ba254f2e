"""Grants on every other door: the proxy, SNMS detail reads, search and the Handle wire
protocol. Each shows the partner exactly what its grant names, and stops when revoked."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from grants_support import SECRET, fill, grant, snms_token

pytestmark = pytest.mark.anyio
WIRE_SECRET = b"partner-wire-secret-horse"


@pytest.fixture
async def world(client, tenant_a, tenant_b):
    await fill(client, tenant_a)
    gid = await grant(client, tenant_a, tenant_b, pattern="P-*")
    return tenant_a, tenant_b, gid


def restricted_data(text: str) -> set[str]:
    import re

    return set(re.findall(r"(?:cost|mail|maker)-[A-Z]-\d|" + SECRET + r"-[A-Z]-\d", text))


async def revoke(client, a, gid: str) -> None:
    assert (await client.delete(f"/api/grants/{gid}", headers=a.auth())).status_code == 200


async def test_the_proxy_shows_granted_values_to_the_partner(client, world):
    a, b, gid = world
    url = f"/{a.prefix}/P-1?noredirect&publicOnly=false"
    r = await client.get(url, headers={**b.auth(), "Accept": "application/json"})
    assert restricted_data(r.text) == {"cost-P-1", "mail-P-1"}
    r = await client.get(url, headers={**b.auth(), "Accept": "text/html"})
    assert r.headers["content-type"].startswith("text/html")
    assert restricted_data(r.text) == {"cost-P-1", "mail-P-1"}
    # Nobody, the partner without publicOnly=false, and another handle: public only.
    assert restricted_data((await client.get(url, headers={"Accept": "text/html"})).text) == set()
    r = await client.get(f"/{a.prefix}/P-1?noredirect", headers=b.auth())
    assert restricted_data(r.text) == set()
    r = await client.get(f"/{a.prefix}/Q-1?noredirect&publicOnly=false", headers=b.auth())
    assert restricted_data(r.text) == set()
    # Without noredirect, credentials asking for values get the record, not a redirect.
    assert (await client.get(f"/{a.prefix}/P-1", headers=b.auth())).status_code == 302
    await revoke(client, a, gid)
    r = await client.get(url, headers={**b.auth(), "Accept": "application/json"})
    assert restricted_data(r.text) == set()


async def test_snms_detail_reads_show_granted_records_only(client, world):
    a, b, gid = world
    token = await snms_token(client, b.prefix)
    auth = {"Authorization": f"Bearer {token}"}

    async def detail(suffix: str) -> dict:
        r = await client.get("/identityv2/data/detail", params={"handle": f"{a.prefix}/{suffix}"},
                             headers=auth)  # fmt: skip
        assert r.status_code == 200
        return r.json()

    body = await detail("P-1")
    assert body["status"] == 1 and restricted_data(str(body)) == {"cost-P-1", "mail-P-1"}
    body = await detail("Q-1")  # no grant names Q-1: refused like any other tenant's record
    assert body["status"] != 1 and restricted_data(str(body)) == set()
    await revoke(client, a, gid)
    body = await detail("P-1")
    assert body["status"] != 1 and restricted_data(str(body)) == set()


async def test_search_finds_only_what_is_granted(client, world):
    a, b, gid = world
    r = await client.get("/api/search", params={"owner": a.prefix, "q": "-"}, headers=b.auth())
    assert r.status_code == 200, r.text
    hits = r.json()["items"]
    assert sorted(h["handle"] for h in hits) == [f"{a.prefix}/P-1", f"{a.prefix}/P-2"]
    assert restricted_data(r.text) == {"cost-P-1", "mail-P-1", "cost-P-2", "mail-P-2"}
    # A search by a restricted value finds a granted record, never an ungranted one.
    r = await client.get("/api/search", params={"owner": a.prefix, "value": "cost-Q"},
                         headers=b.auth())  # fmt: skip
    assert r.status_code == 200 and restricted_data(r.text) == set()
    # B's own search stays B's; an owner that granted nothing is refused.
    r = await client.get("/api/search", params={"q": "P-"}, headers=b.auth())
    assert restricted_data(r.text) == set()
    r = await client.get("/api/search", params={"owner": a.prefix, "q": "-"}, headers=a.auth())
    assert r.status_code == 200  # its own tenant named as owner: its own search
    r = await client.get(
        "/api/search", params={"owner": a.prefix, "q": "-"}, headers=b.auth(b.read_key)
    )  # a read-only key of B sees B's public values only, so no grant applies
    assert r.status_code == 403
    await revoke(client, a, gid)
    r = await client.get("/api/search", params={"owner": a.prefix, "q": "-"}, headers=b.auth())
    assert r.status_code == 403 and restricted_data(r.text) == set()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def wire(client, app) -> AsyncIterator[tuple[str, int]]:
    from core.settings import get_settings
    from resolver.wire.listener import WireListener
    from resolver.wire.server import WireServer

    for _ in range(20):
        listener = WireListener(WireServer(app.resolver, get_settings()))
        port = free_port()
        await listener.start("127.0.0.1", port)
        if listener.bound:
            break
    yield ("127.0.0.1", port)
    await listener.stop()


async def test_the_wire_protocol_shows_granted_values_to_the_partners_identity(client, world, wire):
    from resolver.wire import bodies
    from resolver.wire.adminclient import Credential, request
    from resolver.wire.constants import DEFAULT_REQUEST_FLAGS, OpCode, OpFlag

    a, b, gid = world
    r = await client.put(f"/api/handles/{b.prefix}/admin", headers=b.auth(), json={"values": [
        {"index": 300, "type": "HS_SECKEY", "data": WIRE_SECRET.decode(),
         "permissions": "1100"}]})  # fmt: skip
    assert r.status_code in (200, 201), r.text
    partner = Credential(f"{b.prefix}/admin", 300, secret=WIRE_SECRET)
    flags = DEFAULT_REQUEST_FLAGS & ~OpFlag.PUBL

    async def resolve(suffix: str, cred) -> tuple[int, set[str]]:
        body = bodies.resolution_request_body(f"{a.prefix}/{suffix}")
        replies = await request(OpCode.RESOLUTION, body, cred, server=wire, op_flags=flags)
        return replies[-1][0].header.rc, restricted_data(repr(replies))

    assert await resolve("P-1", partner) == (1, {"cost-P-1", "mail-P-1"})
    assert (await resolve("Q-1", partner))[1] == set()
    assert (await resolve("P-1", None))[1] == set()
    await revoke(client, a, gid)
    assert (await resolve("P-1", partner))[1] == set()
