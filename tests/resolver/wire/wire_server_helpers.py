"""Shared set-up for the wire server tests: a listener on a free port over the app's resolver."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass
from typing import Any

from resolver.wire import codec
from resolver.wire.constants import TRUNCATED
from resolver.wire.listener import WireListener
from resolver.wire.server import WireServer

JSON = {"Content-Type": "application/json"}


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return int(port)
    raise RuntimeError("no free port")


async def start_listener(app: Any, settings: Any, **overrides: Any) -> tuple[WireListener, int]:
    port = free_port()
    settings = settings.model_copy(update={"wire_port": port, **overrides})
    listener = WireListener(WireServer(app.resolver, settings))
    await listener.start("127.0.0.1", port)
    assert listener.bound, "the test listener could not bind"
    return listener, port


async def udp_exchange(
    port: int, datagrams: list[bytes], wait: float = 0.3, *, expect: int | None = None
) -> list[bytes]:
    """Send raw datagrams and collect whatever comes back within ``wait`` seconds, or
    until ``expect`` datagrams have come."""
    loop = asyncio.get_running_loop()
    got: list[bytes] = []
    enough = asyncio.Event()

    class P(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            got.append(data)
            if expect is not None and len(got) >= expect:
                enough.set()

    transport, _ = await loop.create_datagram_endpoint(P, remote_addr=("127.0.0.1", port))
    try:
        for d in datagrams:
            transport.sendto(d)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(enough.wait(), wait)
    finally:
        transport.close()
    return got


async def put(client: Any, tenant: Any, handle: str, values: list[dict[str, Any]]) -> Any:
    r = await client.put(
        f"/api/handles/{handle}", json={"values": values}, headers={**tenant.auth(), **JSON}
    )
    assert r.status_code in (200, 201), r.text
    return r


def hdllib_reassemble(packets: list[bytes], request_id: int) -> codec.Message:
    """What hdllib does with the datagrams of one answer, with its checks as asserts."""
    assert packets, "no answer"
    first = codec.decode_envelope(packets[0])
    total = first.length
    expected = -(-total // 492)
    assert len(packets) == expected, f"{len(packets)} datagrams for {total} bytes"
    chunks = {}
    for packet in packets:
        env = codec.decode_envelope(packet)
        assert len(packet) <= 512
        assert env.request_id == request_id and env.length == total
        assert env.flags & TRUNCATED or expected == 1
        chunks[env.sequence] = packet[20:]
    assert sorted(chunks) == list(range(expected))
    message = b"".join(chunks[n] for n in range(expected))
    assert len(message) == total
    return codec.parse_message(first._replace(flags=0, sequence=0), message)


@dataclass(frozen=True)
class FixedTenant:
    id: int
    prefix: str
    key: str
    read_key: str

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


async def fixed_tenant(code: str, name: str) -> Any:
    """The tenant with prefix 88.100.{code} (created on first use in this test run), with
    fresh API keys: captured exchanges name their handles, so their tenants are fixed."""
    from core.errors import NotFound
    from tenants.accounts.services.apikeys import create_key
    from tenants.accounts.services.tenants import create_tenant, get_by_prefix

    try:
        t = await get_by_prefix(f"88.100.{code}")
    except NotFound:
        t = await create_tenant(name, code=code, actor="test")
    key, _ = await create_key(t.prefix, scopes="read,write", actor="test")
    read_key, _ = await create_key(t.prefix, scopes="read", actor="test")
    return FixedTenant(t.id, t.prefix, key, read_key)
