"""A tenant's own servers: what is accepted, how HS_SITE carries them, who sees them, and
the prober's view of them (availability, abnormal events naming the tenant)."""

from __future__ import annotations

import base64
import os
import socket
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, rsa

from core.errors import InvalidValue
from core.tenancy import tenant_transaction
from resolver.observability.enterprise import enterprise_availability
from resolver.observability.events import judge
from resolver.observability.prober import Targets, enterprise_targets, probe_round, record_round
from resolver.wire.keys import decode_public_key
from resolver.wire.listener import WireListener
from resolver.wire.server import WireServer
from resolver.wire.site import decode_site, encode_site
from tenants.enterprise.services.servers import (
    encode_key,
    parse_servers,
    servers_of,
    set_delegated,
    set_servers,
    site_json,
)
from tenants.enterprise.tables import EnterpriseServer

pytestmark = pytest.mark.anyio


def _free_port() -> int:
    for _ in range(50):
        with socket.socket() as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return int(port)
    raise RuntimeError("no free port")


def test_servers_are_ip_addresses_with_ports_v4_and_v6() -> None:
    got = parse_servers("192.0.2.1:2641, [2001:db8::1]:2700,198.51.100.7")
    assert [(s.address, s.port) for s in got] == [
        ("192.0.2.1", 2641), ("2001:db8::1", 2700), ("198.51.100.7", 2641)
    ]  # fmt: skip
    for bad, says in (
        ("hdl.example.com:2641", "not an IP address"),
        ("192.0.2.1:70000", "port"),
        ("192.0.2.1:1,192.0.2.1:1", "twice"),
        ("", "at least one"),
        (",".join(f"192.0.2.{n}:2641" for n in range(1, 18)), "at most 16"),
        ("0.0.0.0:2641", "not a server"),
    ):
        with pytest.raises(InvalidValue, match=says):
            parse_servers(bad)
    with pytest.raises(InvalidValue, match="protocols"):
        parse_servers("192.0.2.1:1", protocols="udp,smtp")
    with pytest.raises(InvalidValue, match="http-port"):
        parse_servers("192.0.2.1:1", protocols="tcp,http")


@pytest.mark.parametrize("kind", ["rsa", "dsa"])
def test_a_server_key_travels_in_hs_site_as_hdllib_encodes_it(kind: str) -> None:
    private = (
        rsa.generate_private_key(public_exponent=65537, key_size=1024)
        if kind == "rsa"
        else dsa.generate_private_key(key_size=1024)
    )
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    servers = parse_servers("192.0.2.1:2641,[2001:db8::1]:2641", protocols="udp,tcp,http",
                            http_port=8000, public_key=encode_key(pem))  # fmt: skip
    site = decode_site(encode_site(site_json(servers, "88.100.9")))
    first = site["servers"][0]
    assert [s["address"] for s in site["servers"]] == ["192.0.2.1", "2001:db8::1"]
    assert [(i["protocol"], i["port"]) for i in first["interfaces"]] == [
        ("UDP", 2641), ("TCP", 2641), ("HTTP", 8000)
    ]  # fmt: skip
    key = decode_public_key(base64.b64decode(first["publicKey"]["value"]))
    assert key.public_numbers() == private.public_key().public_numbers()
    with pytest.raises(InvalidValue):
        encode_key(b"not a key")


async def test_tenant_b_cannot_see_or_change_a_servers(client, tenant_a, tenant_b) -> None:
    await set_servers(tenant_a.prefix, parse_servers("192.0.2.10:2641"), actor="test")
    assert [s.address for s in await servers_of(tenant_a.id)] == ["192.0.2.10"]
    assert await servers_of(tenant_b.id) == []
    if os.environ.get("IDNEST_TEST_PROFILE") == "postgres":
        # Row-level security: B's transaction sees none of A's rows, even unfiltered,
        # and cannot delete them.
        async with tenant_transaction(tenant_b.id):
            assert await EnterpriseServer.select().run() == []
            await EnterpriseServer.delete(force=True)
        assert [s.address for s in await servers_of(tenant_a.id)] == ["192.0.2.10"]
    # B's own change touches only B.
    await set_servers(tenant_b.prefix, parse_servers("192.0.2.20:2641"), actor="test")
    await set_delegated(tenant_b.prefix, actor="test")
    assert [s.address for s in await servers_of(tenant_a.id)] == ["192.0.2.10"]
    assert await servers_of(tenant_b.id) == []


async def test_the_prober_pings_each_enterprise_and_an_outage_names_it(
    app, client, settings, tenant_a, tenant_b
) -> None:
    port = _free_port()
    listener = WireListener(
        WireServer(app.resolver, settings.model_copy(update={"wire_port": port}))
    )
    await listener.start("127.0.0.1", port)
    try:
        await set_servers(tenant_a.prefix, parse_servers(f"127.0.0.1:{port}"), actor="test")
        await set_servers(tenant_b.prefix, parse_servers(f"127.0.0.1:{_free_port()}"),
                          actor="test")  # fmt: skip
        mine = {tenant_a.prefix, tenant_b.prefix}
        targets = tuple(t for t in await enterprise_targets() if t[0] in mine)
        start = datetime.now(UTC) - timedelta(minutes=3)
        for n in range(3):
            probes = await probe_round(Targets([], [], "", "", targets), limit=0.5)
            assert {p.door: p.ok for p in probes} == {
                f"enterprise:{tenant_a.prefix}": True, f"enterprise:{tenant_b.prefix}": False,
            }  # fmt: skip
            await record_round(probes, start + timedelta(minutes=n))
    finally:
        await listener.stop()
    figures = {f["prefix"]: f for f in await enterprise_availability()}
    assert figures[tenant_a.prefix]["availability"] == 1.0
    assert figures[tenant_b.prefix]["availability"] == 0.0
    assert "127.0.0.1" in figures[tenant_b.prefix]["last_detail"]
    assert [f["prefix"] for f in await enterprise_availability(tenant_a.prefix)] == [
        tenant_a.prefix
    ]
    decisions = await judge(settings, datetime.now(UTC))
    raised = {d.door for d in decisions if d.action == "raise" and d.condition == "probe"}
    assert f"enterprise:{tenant_b.prefix}" in raised
    assert f"enterprise:{tenant_a.prefix}" not in raised
