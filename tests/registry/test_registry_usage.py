"""An SNMS batch counts one registration per identifier it created (core/usage.py)."""

from __future__ import annotations

import pytest
from registry_helpers import snms_login

pytestmark = pytest.mark.anyio


async def _month(tenant_id: int):
    from core import usage

    return await usage.tenant_month(tenant_id, usage.month_of(usage.now()))


async def test_snms_batch_counts_each_identifier_created(client, tenant_a, tenant_b):
    auth = await snms_login(client, tenant_a.prefix)
    p = tenant_a.prefix

    def item(n: int) -> dict:
        value = [{"index": 1, "type": "URL", "data": {"format": "string", "value": "https://e.x"}}]
        return {"handle": f"{p}/SB-{n}", "value": value}

    r = await client.post(
        "/identityv2/data/batchCreate", json=[item(n) for n in range(4)], headers=auth
    )
    assert r.json()["status"] == 1
    # two new, two already there (refused): two more registrations, not four
    again = [item(n) for n in range(2, 6)]
    await client.post("/identityv2/data/batchCreate", json=again, headers=auth)
    assert (await _month(tenant_a.id)).registrations == 6
    assert (await _month(tenant_b.id)).registrations == 0
