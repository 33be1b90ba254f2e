"""HS_SITE advertises what really listens: bind host, ports, address form.

The unit cases build the site from settings; the last one runs `idnest serve --host
127.0.0.1 --port P` as a real process and looks at what it binds and advertises.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import smoke_support
from wire_server_helpers import free_port

from resolver.wire.client import resolve_routed_sync
from resolver.wire.nodesite import node_site
from resolver.wire.site import encode_site

IDNEST = str(Path(sys.executable).with_name("idnest"))


def servers(settings: Any, **update: Any) -> dict[str, dict[str, int]]:
    site = node_site(settings.model_copy(update=update))
    return {
        s["address"]: {i["protocol"]: i["port"] for i in s["interfaces"]} for s in site["servers"]
    }


def test_a_wildcard_bind_advertises_loopback_of_both_families(settings):
    got = servers(settings, host="::", wire_host="", wire_addresses="", port=8000)
    wire = settings.wire_port
    assert got == {"127.0.0.1": {"UDP": wire, "TCP": wire, "HTTP": 8000},
                   "::1": {"UDP": wire, "TCP": wire, "HTTP": 8000}}  # fmt: skip


def test_a_specific_bind_advertises_only_itself_and_the_port_served(settings):
    got = servers(settings, host="127.0.0.1", wire_host="", wire_addresses="", port=18001)
    assert list(got) == ["127.0.0.1"] and got["127.0.0.1"]["HTTP"] == 18001
    # configured, local, but not bound: left out (it would be a lie)
    got = servers(settings, host="127.0.0.1", wire_host="", wire_addresses="127.0.0.1,::1")
    assert list(got) == ["127.0.0.1"]
    # configured and not this machine's (a load balancer's address): taken as given
    got = servers(settings, host="127.0.0.1", wire_host="", wire_addresses="192.0.2.80")
    assert list(got) == ["192.0.2.80"] and set(got["192.0.2.80"]) == {"UDP", "TCP", "HTTP"}
    # the wire door bound apart from HTTP: each interface where its own socket is
    got = servers(settings, host="::1", wire_host="127.0.0.1", wire_addresses="127.0.0.1,::1")
    assert got == {"127.0.0.1": {"UDP": settings.wire_port, "TCP": settings.wire_port},
                   "::1": {"HTTP": settings.port}}  # fmt: skip


def test_ipv4_is_written_as_hdllib_reads_it(settings):
    raw = encode_site(node_site(settings.model_copy(update={"host": "127.0.0.1"})))
    assert bytes(12) + bytes((127, 0, 0, 1)) in raw
    assert b"\xff\xff\x7f\x00\x00\x01" not in raw


def _env(workdir: str, wire_port: int) -> dict[str, str]:
    return smoke_support.node_env(workdir, wire_port=str(wire_port), scheduler_enabled="false")


def _refused(family: socket.AddressFamily, address: str, port: int) -> bool:
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        try:
            s.connect((address, port))
        except ConnectionRefusedError:
            return True
        except OSError:
            return True  # no IPv6 here: nothing listens there either
    return False


@pytest.mark.slow
def test_serve_binds_and_advertises_what_it_was_told(tmp_workdir):
    wire = free_port()
    env = _env(tmp_workdir, wire)
    with smoke_support.serving(tmp_workdir, env) as base:
        prefix = smoke_support.run_cli(tmp_workdir, env, "tenant", "create", "--name", "Site Co")
        port = int(base.rsplit(":", 1)[1])
        r = httpx.get(f"{base}/api/handles/0.NA/{prefix}?type=HS_SITE")
        site = r.json()["values"][0]["data"]["value"]
        assert [s["address"] for s in site["servers"]] == ["127.0.0.1"]
        ports = {i["protocol"]: i["port"] for i in site["servers"][0]["interfaces"]}
        assert ports == {"UDP": wire, "TCP": wire, "HTTP": port}
        # the wire door listens on 127.0.0.1 only: not on ::1, not on 127.0.0.2
        (rc, _), via = resolve_routed_sync(f"0.NA/{prefix}", server=("127.0.0.1", wire))
        assert rc == 1 and via.startswith("udp, ")
        assert _refused(socket.AF_INET, "127.0.0.2", wire)
        assert _refused(socket.AF_INET6, "::1", wire)
        assert _refused(socket.AF_INET, "127.0.0.2", port)
