"""Wire CREATE_HANDLE and ADD_VALUE refuse a suffix with a '.'/'..' segment: rc INVALID_HANDLE."""

from __future__ import annotations

from typing import Any

import pytest
from wire_server_helpers import put, start_listener

from core.values import HandleValue, ValueData
from resolver.wire import bodies
from resolver.wire.adminclient import Credential, request
from resolver.wire.constants import OpCode, ResponseCode

pytestmark = pytest.mark.anyio
SECRET = "correct horse battery staple"


@pytest.fixture
async def wire(app: Any, client: Any, settings: Any) -> Any:
    listener, port = await start_listener(app, settings)
    yield ("127.0.0.1", port)
    await listener.stop()


async def test_wire_admin_refuses_dot_segments(client, tenant_a, tenant_b, wire):
    await put(client, tenant_a, f"{tenant_a.prefix}/admin",
              [{"index": 300, "type": "HS_SECKEY", "data": SECRET}])  # fmt: skip
    cred = Credential(f"{tenant_a.prefix}/admin", 300, secret=SECRET.encode())
    url = HandleValue(1, "URL", ValueData("string", "https://a.example/"), timestamp="")
    for name in (f"{tenant_a.prefix}/../{tenant_b.prefix}/PUB", f"{tenant_a.prefix}/a/./b"):
        for op in (OpCode.CREATE_HANDLE, OpCode.ADD_VALUE):
            replies = await request(op, bodies.values_body(name, [url]), cred, server=wire)
            assert replies[-1][0].header.rc == ResponseCode.INVALID_HANDLE, (name, op)
        assert (await client.get(f"/api/handles/{name.replace('/', '%2F')}")).status_code == 404
    ok = bodies.values_body(f"{tenant_a.prefix}/a..b", [url])
    replies = await request(OpCode.CREATE_HANDLE, ok, cred, server=wire)
    assert replies[-1][0].header.rc == ResponseCode.SUCCESS
