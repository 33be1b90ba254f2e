"""The console's grants page: the owner grants and revokes; the partner sees what it
received; another tenant's member sees neither page nor grant."""

from __future__ import annotations

import httpx
import pytest
from grants_support import console_login, fill, seen

pytestmark = pytest.mark.anyio


@pytest.fixture
async def browser(app):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        yield c


@pytest.fixture
async def browser2(app):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        yield c


async def test_the_owner_grants_and_revokes_and_the_partner_sees_it(
    client, browser, browser2, tenant_a, tenant_b
):
    a, b = tenant_a, tenant_b
    await fill(client, a)
    csrf = await console_login(browser, a.id)
    r = await browser.post(f"/console/{a.prefix}/grants", data={
        "_csrf_token": csrf, "to": b.prefix, "kind": "pattern", "selector": "P-*"})  # fmt: skip
    assert r.status_code == 303, r.text
    page = (await browser.get(f"/console/{a.prefix}/grants")).text
    assert b.prefix in page and "P-*" in page and "/revoke" in page
    assert await seen(client, f"{a.prefix}/P-1", b.auth()) == {"cost-P-1", "mail-P-1"}

    csrf2 = await console_login(browser2, b.id)
    theirs = (await browser2.get(f"/console/{b.prefix}/grants")).text
    received = theirs.split('id="grants-received"', 1)[1]
    assert a.prefix in received and "P-*" in received and "/revoke" not in received
    # The partner's member cannot see the owner's page nor revoke the owner's grant.
    assert (await browser2.get(f"/console/{a.prefix}/grants")).status_code == 404
    import re

    gid = re.search(r"grt_[0-9a-f]+", page).group(0)
    r = await browser2.post(f"/console/{b.prefix}/grants/{gid}/revoke", data={"_csrf_token": csrf2})
    assert r.status_code == 404
    assert await seen(client, f"{a.prefix}/P-1", b.auth()) == {"cost-P-1", "mail-P-1"}

    r = await browser.post(f"/console/{a.prefix}/grants/{gid}/revoke", data={"_csrf_token": csrf})
    assert r.status_code == 303
    assert await seen(client, f"{a.prefix}/P-1", b.auth()) == set()
    assert "revoked" in (await browser.get(f"/console/{a.prefix}/grants?lang=en")).text


async def test_a_bad_grant_is_explained_and_a_viewer_cannot_grant(client, browser, tenant_a,
                                                                  tenant_b):  # fmt: skip
    a = tenant_a
    csrf = await console_login(browser, a.id)
    r = await browser.post(f"/console/{a.prefix}/grants", data={
        "_csrf_token": csrf, "to": tenant_b.prefix, "kind": "type",
        "selector": "HS_SECKEY"})  # fmt: skip
    assert r.status_code == 400 and "never granted" in r.text
    browser.cookies.clear()
    csrf = await console_login(browser, a.id, role="viewer")
    page = await browser.get(f"/console/{a.prefix}/grants")
    assert page.status_code == 200 and 'id="create-grant"' not in page.text
    form = {"_csrf_token": csrf, "to": tenant_b.prefix, "kind": "pattern", "selector": "*"}
    r = await browser.post(f"/console/{a.prefix}/grants", data=form)
    assert r.status_code == 403
