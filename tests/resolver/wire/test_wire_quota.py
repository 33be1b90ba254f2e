"""The Handle wire door refuses a creation past the plan's registration cap with rc 604."""

from __future__ import annotations

import uuid
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


async def test_wire_create_past_the_cap_is_rc_604(client, tenant_a, wire):
    from billing.plans.service import assign_plan, create_plan

    await put(
        client,
        tenant_a,
        f"{tenant_a.prefix}/admin",
        [{"index": 300, "type": "HS_SECKEY", "data": SECRET}],
    )  # fmt: skip
    cred = Credential(f"{tenant_a.prefix}/admin", 300, secret=SECRET.encode())
    code = "wcap-" + uuid.uuid4().hex[:10]
    await create_plan(code, "Wire cap", monthly_fee_fen=0, included_registrations=2,
                      included_resolutions=0, registration_price_fen=0,
                      resolution_price_per_1000_fen=0, registration_cap=2,
                      actor="test")  # fmt: skip
    await assign_plan(tenant_a.prefix, code, actor="test")

    def create(suffix: str) -> bytes:
        value = HandleValue(1, "URL", ValueData("string", "https://a.example/"), timestamp="",
                            permissions="1110")  # fmt: skip
        return bodies.values_body(f"{tenant_a.prefix}/{suffix}", [value])

    async def rc(body: bytes) -> int:
        replies = await request(OpCode.CREATE_HANDLE, body, cred, server=wire)
        return replies[-1][0].header.rc

    assert await rc(create("W-1")) == ResponseCode.SUCCESS
    assert await rc(create("W-2")) == 604
    # resolution goes on
    assert (await client.get(f"/api/handles/{tenant_a.prefix}/W-1")).status_code == 200
