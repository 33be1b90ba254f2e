"""Past the plan's registration cap every door refuses a creation (402 / rc 604, SNMS's
error shape); updates and resolution go on."""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.anyio
JSON = {"Content-Type": "application/json"}
URL = [{"index": 1, "type": "URL", "data": "https://example.com/q"}]


async def _capped(prefix: str, cap: int) -> str:
    from billing.plans.service import assign_plan, create_plan

    code = "cap-" + uuid.uuid4().hex[:10]
    await create_plan(code, "Capped", monthly_fee_fen=0, included_registrations=cap,
                      included_resolutions=0, registration_price_fen=0,
                      resolution_price_per_1000_fen=0, registration_cap=cap,
                      actor="test")  # fmt: skip
    await assign_plan(prefix, code, actor="test")
    return code


async def snms_login(client, prefix: str) -> dict[str, str]:
    from tenants.identifiers.services.snms import create_account

    username = f"q{uuid.uuid4().hex[:10]}"
    await create_account(prefix, username, "correct-horse-1", actor="test")
    r = await client.post(
        "/identity/token", json={"username": username, "password": "correct-horse-1"}
    )
    return {"Authorization": f"Bearer {r.json()['data']['token']}"}


async def test_rest_and_snms_refuse_past_the_cap(client, tenant_a, tenant_b):
    code = await _capped(tenant_a.prefix, 2)
    auth = {**tenant_a.auth(), **JSON}
    for n in (1, 2):
        r = await client.put(f"/api/handles/{tenant_a.prefix}/Q-{n}", json=URL, headers=auth)
        assert r.status_code == 201
    r = await client.put(f"/api/handles/{tenant_a.prefix}/Q-3", json=URL, headers=auth)
    assert r.status_code == 402 and r.headers["content-type"].startswith("application/problem")
    body = r.json()
    assert body["responseCode"] == 604 and code in body["detail"] and "2" in body["detail"]
    # an update is not a registration; resolution is never cut off
    assert (
        await client.put(f"/api/handles/{tenant_a.prefix}/Q-1", json=URL, headers=auth)
    ).status_code == 200
    assert (await client.get(f"/api/handles/{tenant_a.prefix}/Q-1")).status_code == 200
    assert (await client.get(f"/api/handles/{tenant_a.prefix}/Q-3")).status_code == 404
    # SNMS: a batch that would pass the cap is refused whole, in SNMS's shape
    snms = await snms_login(client, tenant_a.prefix)
    item = {
        "handle": f"{tenant_a.prefix}/S-1",
        "value": [
            {"index": 1, "type": "URL", "data": {"format": "string", "value": "https://e.x"}}
        ],
    }
    r = await client.post("/identityv2/data/batchCreate", json=[item], headers=snms)
    assert r.status_code == 200 and r.json()["status"] == -2 and code in r.json()["message"]
    # another tenant is not held to A's cap
    r = await client.put(f"/api/handles/{tenant_b.prefix}/Q-3", json=URL,
                         headers={**tenant_b.auth(), **JSON})  # fmt: skip
    assert r.status_code == 201
