"""Shared set-up for the wire server tests: a listener on a free port over the app's resolver."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

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


async def udp_exchange(port: int, datagrams: list[bytes], wait: float = 0.3) -> list[bytes]:
    """Send raw datagrams and collect whatever comes back within ``wait`` seconds."""
    loop = asyncio.get_running_loop()
    got: list[bytes] = []

    class P(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            got.append(data)

    transport, _ = await loop.create_datagram_endpoint(P, remote_addr=("127.0.0.1", port))
    try:
        for d in datagrams:
            transport.sendto(d)
        await asyncio.sleep(wait)
    finally:
        transport.close()
    return got


async def put(client: Any, tenant: Any, handle: str, values: list[dict[str, Any]]) -> Any:
    r = await client.put(
        f"/api/handles/{handle}", json={"values": values}, headers={**tenant.auth(), **JSON}
    )
    assert r.status_code in (200, 201), r.text
    return r
