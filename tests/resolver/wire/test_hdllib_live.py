"""CNRI's own client, hdllib (handle.jar, 2006), against the wire server: the real thing.

Needs ``java``/``javac`` and the jar (not in the repository, for licensing): point
``IDNEST_TEST_HDLLIB_JAR`` at it, or put it at tests/resolver/wire/hdllib/handle.jar
(git-ignored). Without them the test skips; the exchanges it recorded last are kept as
bytes in tests/resolver/wire/fixtures/ and replayed by test_hdllib_fixtures.py, which
needs neither. ``IDNEST_TEST_CAPTURE_FIXTURES=1`` rewrites those fixtures from this run.

Every exchange goes through ``CaptureProxy``: hdllib talks to the proxy, the proxy to
the server. What hdllib does is its own: UDP only for resolution and site info
(``sendHdlUdpRequest``, which waits for all the datagrams of an answer), and for
administration the site info over UDP, then the TCP interface it names, the challenge,
and the answer on a new connection.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from hdllib_capture import CaptureProxy, save
from wire_server_helpers import fixed_tenant, free_port, put, start_listener

from resolver.wire.keys import decode_public_key

pytestmark = pytest.mark.anyio

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
JAR = Path(os.environ.get("IDNEST_TEST_HDLLIB_JAR", HERE / "hdllib" / "handle.jar"))
CAPTURE = os.environ.get("IDNEST_TEST_CAPTURE_FIXTURES") == "1"
META = json.loads((FIXTURES / "meta.json").read_text())


def big_record(size: int = 2000) -> list[dict[str, Any]]:
    """About ``size`` bytes on the wire: URL values of 200-odd bytes each."""
    return [
        {"index": i, "type": "URL", "data": f"https://hdllib.example/{'r' * 180}/{i}"}
        for i in range(1, size // 240 + 2)
    ]


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (shutil.which("java") and shutil.which("javac")):
        pytest.skip("java/javac not installed")
    if not JAR.is_file():
        pytest.skip(f"hdllib jar not found at {JAR} (set IDNEST_TEST_HDLLIB_JAR)")
    out = tmp_path_factory.mktemp("hdldriver")
    import subprocess

    done = subprocess.run(
        ["javac", "-cp", str(JAR), "-d", str(out), str(HERE / "hdllib" / "HdlDriver.java")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out


async def run_driver(classes: Path, *args: str) -> tuple[int, list[str]]:
    """The driver's OK/FAIL lines (stdout). hdllib complains on stderr that the jar has
    no root_info (it needs none here: every request names its server); its home folder
    is pointed away from ours, as it writes a config folder there."""
    proc = await asyncio.create_subprocess_exec(
        "java", f"-Duser.home={classes}", "-cp", f"{JAR}{os.pathsep}{classes}", "HdlDriver",
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    lines = out.decode("utf-8", "replace").splitlines()
    if proc.returncode:
        lines.append("stderr: " + err.decode("utf-8", "replace")[-2000:])
    return proc.returncode or 0, lines


async def cli(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "portal.cli", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode()


async def test_hdllib_resolves_and_administers(app, client, settings, driver, tmp_path):
    a = await fixed_tenant(META["code_a"], "hdllib A")
    b = await fixed_tenant(META["code_b"], "hdllib B")
    # keys: made by hdllib (Java's generators, hdllib's Util.getBytesFromPublicKey)
    keydir = FIXTURES if CAPTURE else tmp_path
    rc, lines = await run_driver(driver, "keys", str(keydir))
    assert rc == 0, lines
    await put(client, a, f"{a.prefix}/admin", [
        {"index": 300, "type": "HS_SECKEY", "data": META["secret_a"]},
    ])  # fmt: skip
    await put(client, b, f"{b.prefix}/admin", [
        {"index": 300, "type": "HS_SECKEY", "data": META["secret_b"]},
    ])  # fmt: skip
    # the RSA key in hdllib's binary form, the DSA key as PEM: both through the CLI
    from cryptography.hazmat.primitives import serialization

    dsa_pem = tmp_path / "dsa.pem"
    dsa_key = decode_public_key((keydir / "dsa.pub.bin").read_bytes())
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    dsa_pem.write_bytes(dsa_key.public_bytes(serialization.Encoding.PEM, spki))
    for index, path in ((301, keydir / "rsa.pub.bin"), (302, dsa_pem)):
        code, out = await cli(
            "credential", "add", "--tenant", a.prefix, "--handle", f"{a.prefix}/admin",
            "--index", str(index), "--pubkey", str(path),
        )  # fmt: skip
        assert code == 0, out
    got = (await client.get(f"/api/handles/{a.prefix}/admin?index=301")).json()
    stored = base64.b64decode(got["values"][0]["data"]["value"])
    assert stored == (keydir / "rsa.pub.bin").read_bytes()  # byte for byte hdllib's form
    await put(client, a, META["big_handle"], big_record())
    for h in META["created"].values():
        owner = a if h.startswith(a.prefix + "/") else b
        await client.delete(f"/api/handles/{h}", headers=owner.auth())

    listener, port = await start_listener(app, settings)
    proxy = CaptureProxy(("127.0.0.1", port))
    await proxy.start(free_port())
    q = str(proxy.port)
    try:

        async def step(name: str, *args: str, expect_ok: bool = True) -> list[str]:
            proxy.records.clear()
            rc, lines = await run_driver(driver, *args)
            if CAPTURE:
                save(FIXTURES / f"{name}.bin", list(proxy.records))
            assert (rc == 0) == expect_ok, lines
            return lines

        lines = await step("udp_resolve_2k", "udp", "127.0.0.1", q, META["big_handle"])
        # the record's URLs and the HS_ADMIN value idnest adds
        assert lines[0].startswith(f"OK udp {META['big_handle']} values={len(big_record()) + 1} ")
        lines = await step("udp_prefix_handle", "udp", "127.0.0.1", q, f"0.NA/{a.prefix}")
        assert lines == [f"OK udp 0.NA/{a.prefix} values=3 databytes={lines[0].rsplit('=')[-1]}"]
        lines = await step("udp_site_info", "site", "127.0.0.1", q)
        assert lines[0] == (
            f"OK site server=1 address=127.0.0.1 key=RSA HDL_UDP/{port} "
            f"HDL_TCP/{port} HDL_HTTP/{settings.port}"
        )
        for kind, index, cred in (
            ("seckey", 300, META["secret_a"]),
            ("rsa", 301, str(keydir / "rsa.pk8")),
            ("dsa", 302, str(keydir / "dsa.pk8")),
        ):
            h = META["created"][kind]
            lines = await step(f"tcp_admin_{kind}", "admin", "127.0.0.1", q, kind,
                               f"{a.prefix}/admin", str(index), cred, h)  # fmt: skip
            assert lines[0] == f"OK admin {kind} {h} rc=1", lines
            r = await client.get(f"/api/handles/{h}")
            assert r.status_code == 200 and kind in r.text
        # A's credentials, on B's prefix: refused, nothing written
        h = META["created"]["cross"]
        lines = await step(
            "tcp_admin_cross_tenant", "admin", "127.0.0.1", q, "seckey", f"{a.prefix}/admin",
            "300", META["secret_a"], h, expect_ok=False,
        )  # fmt: skip
        assert lines[0].startswith(f"FAIL admin seckey {h} rc=401 "), lines  # not permitted
        assert (await client.get(f"/api/handles/{h}")).status_code == 404
    finally:
        await proxy.stop()
        await listener.stop()
