"""A self-deployed enterprise node, for real: another idnest process holds the handles.

The enterprise node is ``idnest serve`` in a process of its own (its own var folder, its
own database: SQLite file or a PostgreSQL database of its own) answering the Handle wire
protocol on its own port. The main node has the same prefix as a self-deployed tenant
pointing at it. We check what a user sees: REST and the proxy resolve through the
enterprise, the wire door refers Handle clients there, a server that sends garbage is
502, a referral loop between the two nodes is a bounded 502, nothing listening is 504,
and a killed enterprise is served stale and then 504.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from smoke_support import IDNEST, empty_node, run_cli, serving

from resolver.wire.client import resolve_sync
from resolver.wire.site import decode_site, encode_site

ENT = "88.100.9"
GARBAGE = "88.100.10"
SILENT = "88.100.11"
LOOP = "88.100.12"
URL = "https://enterprise.example/pump/1"


def _udp_tcp_port() -> int:
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


class GarbageServer(threading.Thread):
    """Answers every datagram with bytes that are no Handle message."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(0.2)
        self.stop = False

    def run(self) -> None:
        while not self.stop:
            try:
                _data, addr = self.sock.recvfrom(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            self.sock.sendto(b"\x07garbage, not a handle envelope", addr)


def _put(base: str, key: str, handle: str, url: str) -> None:
    r = httpx.put(f"{base}/api/handles/{handle}", headers={"Authorization": f"Bearer {key}"},
                  json={"values": [{"index": 1, "type": "URL", "data": url},
                                   {"index": 2, "type": "EMAIL", "data": "ops@ent.example"}]},
                  timeout=10)  # fmt: skip
    assert r.status_code in (200, 201), r.text


class Nodes:
    def __init__(self, root: Path, stack: ExitStack) -> None:
        self.stack = stack
        self.ent_dir, self.main_dir = root / "ent", root / "main"
        self.ent_dir.mkdir()
        self.main_dir.mkdir()
        self.ent_wire, self.main_wire = _udp_tcp_port(), _udp_tcp_port()
        self.garbage = GarbageServer()
        self.garbage.start()
        stack.callback(setattr, self.garbage, "stop", True)
        # Short windows so that the test sees fresh, stale and gone within seconds.
        self.ent_env = stack.enter_context(empty_node(self.ent_dir, wire_port=str(self.ent_wire)))
        self.main_env = stack.enter_context(empty_node(
            self.main_dir, wire_port=str(self.main_wire), enterprise_timeout="1",
            enterprise_cache_max_ttl="1", enterprise_stale_ttl="4",
        ))  # fmt: skip
        ent, main = str(self.ent_dir), str(self.main_dir)
        assert run_cli(ent, self.ent_env, "tenant", "create", "--name", "Ent", "--code", "9") == ENT
        # The enterprise node refers LOOP back to the main node; the main node to it.
        run_cli(ent, self.ent_env, "tenant", "create", "--name", "Loop", "--code", "12",
                "--servers", f"127.0.0.1:{self.main_wire}")  # fmt: skip
        self.ent_key = run_cli(ent, self.ent_env, "apikey", "create", "--tenant", ENT)
        for name, code, servers in (
            ("Ent", "9", f"127.0.0.1:{self.ent_wire},[::1]:{self.ent_wire}"),
            ("Garbage", "10", f"127.0.0.1:{self.garbage.port}"),
            ("Silent", "11", f"127.0.0.1:{_udp_tcp_port()}"),
            ("Loop", "12", f"127.0.0.1:{self.ent_wire}"),
        ):
            out = run_cli(main, self.main_env, "tenant", "create", "--name", name,
                          "--code", code, "--servers", servers)  # fmt: skip
            assert out == f"88.100.{code}"
        self.ent_proc_ctx = serving(ent, self.ent_env)
        self.ent_base = self.ent_proc_ctx.__enter__()
        stack.callback(self.stop_enterprise)
        self.main_base = stack.enter_context(serving(main, self.main_env))
        _put(self.ent_base, self.ent_key, f"{ENT}/PUMP-1", URL)

    def stop_enterprise(self) -> None:
        if self.ent_proc_ctx is not None:
            ctx, self.ent_proc_ctx = self.ent_proc_ctx, None
            ctx.__exit__(None, None, None)


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nodes]:
    with ExitStack() as stack:
        yield Nodes(tmp_path_factory.mktemp("selfdeployed"), stack)


def test_rest_and_proxy_resolve_through_the_enterprise_node(nodes: Nodes) -> None:
    r = httpx.get(f"{nodes.main_base}/api/handles/{ENT}/PUMP-1", timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["handle"] == f"{ENT}/PUMP-1"
    got = {v["type"]: v["data"]["value"] for v in body["values"] if v["type"] != "HS_ADMIN"}
    assert got == {"URL": URL, "EMAIL": "ops@ent.example"}
    r = httpx.get(f"{nodes.main_base}/{ENT}/PUMP-1", timeout=10)
    assert r.status_code == 302 and r.headers["location"] == URL
    r = httpx.get(f"{nodes.main_base}/api/handles/{ENT}/NO-SUCH", timeout=10)
    assert r.status_code == 404 and r.json()["responseCode"] == 100


def test_the_wire_door_refers_handle_clients_to_the_enterprise(nodes: Nodes) -> None:
    server = ("127.0.0.1", nodes.main_wire)
    rc, values = resolve_sync(f"0.NA/{ENT}", server=server)
    assert rc == 1
    assert not isinstance(values, str)
    site = next(v.data.value for v in values if v.type == "HS_SITE")
    assert isinstance(site, dict)
    # Our own decoder, from the bytes the wire carries.
    decoded = decode_site(encode_site(site))
    assert [(s["address"], {i["protocol"]: i["port"] for i in s["interfaces"]})
            for s in decoded["servers"]] == [
        ("127.0.0.1", {"UDP": nodes.ent_wire, "TCP": nodes.ent_wire}),
        ("::1", {"UDP": nodes.ent_wire, "TCP": nodes.ent_wire}),
    ]  # fmt: skip
    rc, referral = resolve_sync(f"{ENT}/PUMP-1", server=server)
    assert rc == 302  # SERVICE_REFERRAL, with the HS_SITE to follow
    assert not isinstance(referral, str)
    assert [v.type for v in referral] == ["HS_SITE"]
    target = referral[0].data.value["servers"][0]
    # What hdllib does next: ask the server the HS_SITE names.
    rc, answer = resolve_sync(
        f"{ENT}/PUMP-1", server=(target["address"], target["interfaces"][0]["port"])
    )
    assert rc == 1 and not isinstance(answer, str)
    assert [v.data.value for v in answer if v.type == "URL"] == [URL]


def test_clients_older_than_protocol_2_10_are_told_server_not_resp(nodes: Nodes) -> None:
    """A 2.1 client cannot read a 302 (hdllib 2006 throws on it): it gets 301 naming
    the prefix handle; a 2.10 client gets the referral (the test above)."""
    from resolver.wire import bodies, codec
    from resolver.wire.message import decode_message

    body = bodies.resolution_request_body(f"{ENT}/PUMP-1")
    for version, rc in (((2, 1), 301), ((2, 10), 302)):
        frame = codec.encode_request(1, body, request_id=77, version=version)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            s.sendto(frame, ("127.0.0.1", nodes.main_wire))
            answer = decode_message(s.recv(65535))
        assert answer.header.rc == rc, (version, answer.header)
        assert answer.envelope.request_id == 77


HDLLIB = Path(__file__).parents[1] / "resolver" / "wire" / "hdllib"
JAR = Path(os.environ.get("IDNEST_TEST_HDLLIB_JAR", HDLLIB / "handle.jar"))


def test_cnri_hdllib_reaches_the_enterprise_through_the_prefix_handle(
    nodes: Nodes, tmp_path: Path
) -> None:
    """CNRI's own client (handle.jar, 2006; see tests/resolver/wire/test_hdllib_live.py
    for how to provide it). It speaks protocol 2.1 and throws on a 302 ("Unknown
    responseCode: 302", seen here), so it is told SERVER_NOT_RESP; it finds a prefix's
    servers as it always did, from 0.NA/{prefix}'s HS_SITE: decoded by hdllib's own
    Encoder, that names the enterprise node, and hdllib's sendRequestToSite gets the
    record there."""
    if not (shutil.which("java") and shutil.which("javac")):
        pytest.skip("java/javac not installed")
    if not JAR.is_file():
        pytest.skip(f"hdllib jar not found at {JAR} (set IDNEST_TEST_HDLLIB_JAR)")
    subprocess.run(["javac", "-cp", str(JAR), "-d", str(tmp_path), str(HDLLIB / "HdlDriver.java")],
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    done = subprocess.run(
        ["java", f"-Duser.home={tmp_path}", "-cp", f"{JAR}{os.pathsep}{tmp_path}", "HdlDriver",
         "follow", "127.0.0.1", str(nodes.main_wire), ENT, f"{ENT}/PUMP-1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    lines = done.stdout.splitlines()
    assert done.returncode == 0, "\n".join(lines) + done.stderr[-1500:]
    # protocol 2.1: SERVER_NOT_RESP naming the prefix handle, which hdllib can read
    assert lines[0] == (f"OK direct {ENT}/PUMP-1 rc=301 {ENT} is served by its own servers: "
                        f"resolve 0.NA/{ENT} for their HS_SITE"), lines  # fmt: skip
    # The second server is [::1]. HS_SITE has 16 address bytes and hdllib reads 12 zero
    # bytes first as an IPv4 address (REFERENCE §2), so ::1 is 0.0.0.1 to it: loopback
    # IPv6 (and the deprecated ::a.b.c.d form) cannot be told to a 2006 client. Routable
    # IPv6 addresses have non-zero leading bytes; docs/enterprise.md says so.
    assert lines[1] == (
        f"OK hs_site servers=2 127.0.0.1 HDL_UDP/{nodes.ent_wire} HDL_TCP/{nodes.ent_wire} "
        f"0.0.0.1 HDL_UDP/{nodes.ent_wire} HDL_TCP/{nodes.ent_wire}"
    ), "\n".join(lines)
    assert lines[2] == f"OK server 127.0.0.1 rc=1 url {URL}", "\n".join(lines)
    assert lines[3].startswith("FAIL server 0.0.0.1 "), "\n".join(lines)


def test_garbage_is_502_silence_is_504_and_a_loop_is_bounded(nodes: Nodes) -> None:
    r = httpx.get(f"{nodes.main_base}/api/handles/{GARBAGE}/X", timeout=10)
    assert r.status_code == 502, r.text
    assert "unreadable" in r.json()["detail"]
    started = time.monotonic()
    r = httpx.get(f"{nodes.main_base}/api/handles/{SILENT}/X", timeout=10)
    assert r.status_code == 504, r.text
    assert time.monotonic() - started < 5  # the timeout (1 s here), not forever
    r = httpx.get(f"{nodes.main_base}/api/handles/{LOOP}/X", timeout=10)
    assert r.status_code == 502, r.text
    assert "referral" in r.json()["detail"]
    # The node still answers everything else while those failed.
    assert httpx.get(f"{nodes.main_base}/healthz", timeout=5).status_code == 200


def test_snms_reports_of_a_self_deployed_tenant_count_but_resolution_stays_recursive(
    nodes: Nodes,
) -> None:
    main = str(nodes.main_dir)
    for prefix, user in ((ENT, "ent-sync"), (SILENT, "silent-sync")):
        subprocess.run([IDNEST, "snms-user", "create", "--tenant", prefix, "--username", user,
                        "--role", "admin"], cwd=main, env=nodes.main_env, input="correct-horse-1\n",
                       text=True, check=True, capture_output=True, timeout=60)  # fmt: skip
    token = httpx.post(f"{nodes.main_base}/identity/token", timeout=10,
                       json={"username": "ent-sync", "password": "correct-horse-1"}
                       ).json()["data"]["token"]  # fmt: skip
    auth = {"Authorization": f"Bearer {token}"}
    item = {"handle": f"{ENT}/PUMP-1", "value": [{"index": 1, "type": "URL",
            "data": {"format": "string", "value": "https://reported.example/"}}]}  # fmt: skip
    r = httpx.post(f"{nodes.main_base}/identityv2/data", json=item, headers=auth, timeout=10)
    assert r.json()["status"] == 1, r.text
    # Its credentials reach only its own prefix.
    other = {**item, "handle": f"{SILENT}/STOLEN"}
    r = httpx.post(f"{nodes.main_base}/identityv2/data", json=other, headers=auth, timeout=10)
    assert r.json()["status"] != 1, r.text
    r = httpx.get(f"{nodes.main_base}/api/handles?prefix={SILENT}&pageSize=0", headers=auth,
                  timeout=10)  # fmt: skip
    assert r.status_code in (401, 403)
    # The reported copy is the node's record of it (statistics, billing, upstream); the
    # enterprise's own server still answers the resolution.
    r = httpx.get(f"{nodes.main_base}/api/handles/{ENT}/PUMP-1?type=URL", timeout=10)
    assert [v["data"]["value"] for v in r.json()["values"]] == [URL]


def test_a_killed_enterprise_is_served_stale_then_504(nodes: Nodes) -> None:
    url = f"{nodes.main_base}/api/handles/{ENT}/PUMP-1"
    assert httpx.get(url, timeout=10).status_code == 200  # fetched now: fresh 1 s, stale 4 s
    fetched = time.monotonic()
    nodes.stop_enterprise()
    time.sleep(1.3)
    r = httpx.get(url, timeout=10)
    assert r.status_code == 200, r.text  # past its TTL, the enterprise silent: stale
    assert [v["data"]["value"] for v in r.json()["values"] if v["type"] == "URL"] == [URL]
    time.sleep(max(0.0, fetched + 5.5 - time.monotonic()))
    r = httpx.get(url, timeout=10)
    assert r.status_code == 504, r.text
    assert r.json()["title"] == "Enterprise node did not answer"


def test_a_tenant_switches_to_delegated_and_back_keeping_its_prefix(nodes: Nodes) -> None:
    main = str(nodes.main_dir)
    assert run_cli(main, nodes.main_env, "tenant", "servers", SILENT, "--delegated") == (
        f"{SILENT}\tdelegated"
    )
    key = run_cli(main, nodes.main_env, "apikey", "create", "--tenant", SILENT)
    _put(nodes.main_base, key, f"{SILENT}/HOSTED", "https://hosted.example/")
    r = httpx.get(f"{nodes.main_base}/{SILENT}/HOSTED", timeout=10)
    assert r.status_code == 302 and r.headers["location"] == "https://hosted.example/"
    _rc, values = resolve_sync(f"0.NA/{SILENT}", server=("127.0.0.1", nodes.main_wire))
    site: Any = next(v.data.value for v in values if v.type == "HS_SITE")  # type: ignore[union-attr]
    assert {i["port"] for s in site["servers"] for i in s["interfaces"]} >= {nodes.main_wire}
    out = run_cli(main, nodes.main_env, "tenant", "servers", SILENT, "--servers",
                  f"127.0.0.1:{nodes.garbage.port}")  # fmt: skip
    assert out == f"{SILENT}\tself-deployed\t127.0.0.1:{nodes.garbage.port}\tudp,tcp\tno key"
    r = httpx.get(f"{nodes.main_base}/{SILENT}/HOSTED", timeout=10)
    assert r.status_code == 502  # now its own (garbage) server answers for it
