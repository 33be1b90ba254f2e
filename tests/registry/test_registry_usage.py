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


async def test_snms_detail_is_a_counted_resolution(client, app, tenant_a):
    auth = await snms_login(client, tenant_a.prefix)
    h = f"{tenant_a.prefix}/SD-1"
    value = [{"index": 1, "type": "URL", "data": {"format": "string", "value": "https://e.x"}}]
    r = await client.post("/identityv2/data/batchCreate", json=[{"handle": h, "value": value}],
                          headers=auth)  # fmt: skip
    assert r.json()["status"] == 1
    for _ in range(2):
        assert (await client.get(f"/identityv2/data/detail?handle={h}", headers=auth)).json()[
            "status"
        ] == 1
    await app.resolver.counters.flush()
    assert (await _month(tenant_a.id)).resolutions == 2
