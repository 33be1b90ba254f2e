"""Shared set-up for the lifecycle tests: a record, a status change, a wire listener."""

from __future__ import annotations

import json
import socket
from typing import Any

JSON = {"Content-Type": "application/json"}
URL = "https://example.com/p/1"


async def register(client: Any, tenant: Any, suffix: str) -> str:
    handle = f"{tenant.prefix}/{suffix}"
    values = [
        {"index": 1, "type": "URL", "data": URL},
        {"index": 2, "type": "EMAIL", "data": "ops@example.com"},
    ]
    r = await client.put(f"/api/handles/{handle}", json=values, headers={**tenant.auth(), **JSON})
    assert r.status_code == 201, r.text
    return handle


async def patch(client: Any, tenant: Any, handle: str, body: Any, key: str | None = None) -> Any:
    return await client.patch(
        f"/api/handles/{handle}", json=body, headers={**tenant.auth(key), **JSON}
    )


async def set_status(client: Any, tenant: Any, handle: str, status: str, **more: Any) -> Any:
    r = await patch(client, tenant, handle, {"status": status, **more})
    assert r.status_code == 200, r.text
    return r.json()


def free_port() -> int:
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


async def start_wire(app: Any, settings: Any) -> tuple[Any, tuple[str, int]]:
    from resolver.wire.listener import WireListener
    from resolver.wire.server import WireServer

    port = free_port()
    listener = WireListener(
        WireServer(app.resolver, settings.model_copy(update={"wire_port": port}))
    )
    await listener.start("127.0.0.1", port)
    assert listener.bound
    return listener, ("127.0.0.1", port)


async def wire_resolve(server: tuple[str, int], handle: str, transport: str = "udp") -> Any:
    from resolver.wire import client as wire_client

    (rc, values), _ = await wire_client.resolve_routed(handle, server=server, transport=transport)  # type: ignore[arg-type]
    return rc, values


def wire_status(values: Any) -> dict[str, Any] | None:
    """The HS_STATUS value of a wire answer, decoded, or None."""
    for v in values:
        if v.type == "HS_STATUS":
            assert v.index == 0
            return dict(json.loads(v.data.value))
    return None
