"""A device on the Handle wire protocol: challenge-response with the HS_PUBKEY on its own
record proves the device, which then sees what grants naming it reveal and may not write."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from wire_server_helpers import start_listener

from core.handlekeys import encode_public_key

pytestmark = pytest.mark.anyio
JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def wire(app, client, settings) -> AsyncIterator[tuple[str, int]]:
    listener, port = await start_listener(app, settings)
    yield ("127.0.0.1", port)
    await listener.stop()


async def _put(client, tenant, handle: str, values: list[dict]) -> None:
    r = await client.put(f"/api/handles/{handle}", json={"values": values},
                         headers={**tenant.auth(), **JSON})  # fmt: skip
    assert r.status_code in (200, 201), r.text


async def test_a_device_on_the_wire_is_the_device_not_its_tenant(client, tenant_a, tenant_b, wire):
    from core.values import HandleValue, ValueData
    from resolver.wire import bodies
    from resolver.wire.adminclient import Credential, request
    from resolver.wire.constants import DEFAULT_REQUEST_FLAGS, OpCode, OpFlag, ResponseCode
    from tenants.templates.services.templates import save_template

    code = "chip" + uuid.uuid4().hex[:6]
    await save_template(owner_tenant=tenant_a.id, code=code, actor="test",
                        body={"name": "Chip", "type": 1, "extends": "core@1"})  # fmt: skip
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    blob = base64.b64encode(encode_public_key(key.public_key())).decode()
    device = f"{tenant_a.prefix}/DEV-W"
    await _put(client, tenant_a, device, [
        {"index": 1001, "type": "HS_TEMPLATE", "data": code},
        {"index": 2000, "type": "name", "data": "Chip W"},
        {"index": 300, "type": "HS_PUBKEY", "data": {"format": "key", "value": blob}},
    ])  # fmt: skip
    await _put(client, tenant_b, f"{tenant_b.prefix}/P-1", [
        {"index": 1, "type": "URL", "data": "https://b.example/P-1"},
        {"index": 2, "type": "BATCH.COST", "data": "cost-of-b", "permissions": "1100"},
    ])  # fmt: skip
    cred = Credential(device, 300, private_key=key)
    flags = DEFAULT_REQUEST_FLAGS & ~OpFlag.PUBL

    async def resolve() -> tuple[int, bool]:
        body = bodies.resolution_request_body(f"{tenant_b.prefix}/P-1")
        replies = await request(OpCode.RESOLUTION, body, cred, server=wire, op_flags=flags)
        return replies[-1][0].header.rc, "cost-of-b" in repr(replies)

    assert await resolve() == (1, False)  # no grant yet: public values only
    r = await client.post("/api/grants", headers={**tenant_b.auth(), **JSON}, json={
        "to": tenant_a.prefix, "pattern": "P-*", "client": f"device:{device}"})
    assert r.status_code == 201, r.text
    assert await resolve() == (1, True)
    # The device may not administer its tenant's records.
    value = HandleValue(1, "URL", ValueData("string", "https://x/"), timestamp="",
                        permissions="1110")  # fmt: skip
    body = bodies.values_body(f"{tenant_a.prefix}/BY-DEVICE", [value])
    replies = await request(OpCode.CREATE_HANDLE, body, cred, server=wire)
    assert replies[-1][0].header.rc == ResponseCode.INSUFFICIENT_PERMISSIONS
    assert (await client.get(f"/api/handles/{tenant_a.prefix}/BY-DEVICE")).status_code == 404
