"""The console's deployment page: a tenant asks to be self-deployed (or delegated again),
staff review, the approval applies it; another tenant's member sees nothing of it."""

from __future__ import annotations

import pytest
from portal_support import Web, add_member, staff_login

from tenants.enterprise.services.servers import servers_of

pytestmark = pytest.mark.anyio


async def test_servers_entered_in_the_console_apply_on_staff_approval(
    web: Web, web2: Web, tenant_a, tenant_b
) -> None:
    owner = await add_member(tenant_a.id, "owner")
    assert (await web.login(owner)).status_code == 303
    page = f"/console/{tenant_a.prefix}/servers"
    r = await web.get(page)
    assert r.status_code == 200 and 'id="mode"' in r.text and "192.0.2" not in r.text
    bad = await web.post(page, {"mode": "self", "servers": "hdl.example.com:2641"}, form_page=page)
    assert bad.status_code == 400 and "not an IP address" in bad.text
    r = await web.post(page, {"mode": "self", "servers": "192.0.2.7:2641,[2001:db8::7]:2641",
                              "protocols": "udp,tcp"}, form_page=page)  # fmt: skip
    assert r.status_code == 303
    assert 'id="pending"' in (await web.get(page)).text
    assert await servers_of(tenant_a.id) == []  # not before review
    # Another tenant's member cannot reach A's page, nor ask for A.
    other = await add_member(tenant_b.id, "owner")
    assert (await web2.login(other)).status_code == 303
    assert (await web2.get(page)).status_code == 404
    own = f"/console/{tenant_b.prefix}/servers"
    r = await web2.c.post(page, data={"mode": "delegated",
                                      "_csrf_token": await web2.token(own)})  # fmt: skip
    assert r.status_code in (403, 404)
    # Staff approve: the servers are A's now.
    await staff_login(web2, "reviewer")
    listing = await web2.get("/staff/enterprise")
    assert listing.status_code == 200 and "192.0.2.7:2641" in listing.text
    r = await web2.post(
        f"/staff/enterprise/{tenant_a.prefix}/approve", form_page="/staff/enterprise"
    )
    assert r.status_code == 303
    assert [s.endpoint for s in await servers_of(tenant_a.id)] == [
        "192.0.2.7:2641", "[2001:db8::7]:2641"
    ]  # fmt: skip
    assert await servers_of(tenant_b.id) == []
    text = (await web.get(page)).text
    assert "192.0.2.7:2641" in text and 'id="pending"' not in text
    # And back to delegated, rejected first, then approved.
    await web.post(page, {"mode": "delegated"}, form_page=page)
    await web2.post(f"/staff/enterprise/{tenant_a.prefix}/reject", {"reason": "not yet"},
                    form_page="/staff/enterprise")  # fmt: skip
    assert len(await servers_of(tenant_a.id)) == 2
    await web.post(page, {"mode": "delegated"}, form_page=page)
    await web2.post(f"/staff/enterprise/{tenant_a.prefix}/approve", form_page="/staff/enterprise")
    assert await servers_of(tenant_a.id) == []
