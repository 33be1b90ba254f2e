"""Two tenants may use the same suffix: they are two records. Every route's isolation
(each credential of one tenant against the other's data) is tests/isolation/."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio
JSON = {"Content-Type": "application/json"}


async def test_same_suffix_in_two_tenants_are_two_records(client, tenant_a, tenant_b):
    for t, url in ((tenant_a, "https://a.example"), (tenant_b, "https://b.example")):
        r = await client.put(
            f"/api/handles/{t.prefix}/SHARED",
            json=[{"index": 1, "type": "URL", "data": url}],
            headers={**t.auth(), **JSON},
        )
        assert r.status_code == 201
    ra = (await client.get(f"/api/handles/{tenant_a.prefix}/SHARED")).json()
    rb = (await client.get(f"/api/handles/{tenant_b.prefix}/SHARED")).json()
    assert "a.example" in str(ra) and "b.example" not in str(ra)
    assert "b.example" in str(rb) and "a.example" not in str(rb)
