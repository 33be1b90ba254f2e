"""Console and staff pages for identifier schemes: namespace claims, staff review, GS1
links managed in the console and served by the Digital Link resolver; isolation."""

from __future__ import annotations

import pytest
from portal_support import Web, add_member, staff_login

from core.schemes.gs1 import gs1_check_digit

pytestmark = pytest.mark.anyio


def _gtin(company: str, item: str) -> str:
    body = (company + item).rjust(13, "0")
    return body + str(gs1_check_digit(body))


async def _login(web: Web, tenant, role: str = "owner") -> None:
    r = await web.login(await add_member(tenant.id, role))
    assert r.status_code == 303


async def test_claim_review_register_link_and_resolve(web: Web, web2: Web, tenant_a, client):
    t = tenant_a
    company = "69" + str(t.id).rjust(5, "0")
    await _login(web, t)
    page = f"/console/{t.prefix}/schemes"
    r = await web.post(f"{page}/namespace", {"scheme": "gs1", "value": company}, form_page=page)
    assert r.status_code in (302, 303)
    listing = await web.get(page)
    assert company in listing.text and "待审核" in listing.text

    await staff_login(web2, "reviewer")
    queue = await web2.get("/staff/namespaces")
    assert company in queue.text
    r = await web2.post(
        "/staff/namespaces/gs1/verify", {"value": company}, form_page="/staff/namespaces"
    )
    assert r.status_code in (302, 303)
    assert "已核验" in (await web.get(page)).text

    gtin = _gtin(company, "00001")
    r = await client.post(
        "/api/v1/schemes/gs1/codes", json={"code": f"/01/{gtin}"}, headers=t.auth()
    )
    assert r.status_code in (200, 201), r.text
    r = await web.post(
        f"{page}/link",
        {
            "key": f"/01/{gtin}",
            "link_type": "gs1:pip",
            "href": "https://example.com/pip",
            "title": "Product page",
            "language": "zh-CN",
            "is_default": "1",
        },
        form_page=page,
    )
    assert r.status_code in (302, 303), r.text
    assert "https://example.com/pip" in (await web.get(page)).text
    r = await client.get(f"/01/{gtin}", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"].startswith("https://example.com/pip")


async def test_bad_link_is_shown_next_to_the_form(web: Web, tenant_a):
    await _login(web, tenant_a)
    page = f"/console/{tenant_a.prefix}/schemes"
    r = await web.post(
        f"{page}/link",
        {"key": "/01/12345", "link_type": "gs1:pip", "href": "https://example.com"},
        form_page=page,
    )
    assert r.status_code == 400 and 'id="schemes-error"' in r.text
    assert 'value="/01/12345"' in r.text  # what was typed is kept


async def test_viewer_and_other_tenants(web: Web, web2: Web, tenant_a, tenant_b):
    await _login(web, tenant_a, "viewer")
    page = f"/console/{tenant_a.prefix}/schemes"
    assert 'id="link-form"' not in (await web.get(page)).text
    r = await web.post(f"{page}/namespace", {"scheme": "oid", "value": ""}, form_page=page)
    assert r.status_code == 403
    await _login(web2, tenant_b)
    assert (await web2.get(page)).status_code == 404
    r = await web2.post(
        f"{page}/namespace",
        {"scheme": "oid", "value": ""},
        form_page=f"/console/{tenant_b.prefix}/schemes",
    )
    assert r.status_code == 404


async def test_staff_pages_need_a_reviewer(web: Web, tenant_a):
    await _login(web, tenant_a)
    assert (await web.get("/staff/namespaces")).status_code == 404


async def _verified_gcp(tenant) -> str:
    import random

    from tenants.schemes.services.namespaces import request_namespace, review_namespace

    gcp = f"69{random.randrange(10**7):07d}"
    await request_namespace(tenant.id, "gs1", gcp, actor="test")
    await review_namespace("gs1", gcp, verified=True, actor="staff:test")
    return gcp


async def test_item_description_in_the_console_shows_in_the_linkset(web: Web, tenant_a, client):
    gcp = await _verified_gcp(tenant_a)
    key = f"/01/{_gtin(gcp, '042')}"
    await _login(web, tenant_a, "developer")
    page = f"/console/{tenant_a.prefix}/schemes"
    r = await web.post(
        f"{page}/link", {"key": key, "link_type": "gs1:eifu", "href": "https://e.example/"},
        form_page=page,
    )  # fmt: skip
    assert r.status_code in (302, 303), r.text
    r = await web.post(
        f"{page}/item", {"item_key": key, "description": "输液泵 P-300"}, form_page=page
    )
    assert r.status_code in (302, 303), r.text
    listing = (await web.get(page)).text
    assert "输液泵 P-300" in listing and 'id="item-form"' in listing
    (entry,) = (await client.get(f"{key}?linkType=linkset")).json()["linkset"]
    assert entry["itemDescription"] == "输液泵 P-300"
    r = await web.post(f"{page}/item", {"item_key": "/01/123", "description": "x"}, form_page=page)
    assert r.status_code == 400 and 'value="/01/123"' in r.text
    r = await web.post(f"{page}/item", {"item_key": key, "description": ""}, form_page=page)
    assert r.status_code in (302, 303)
    (entry,) = (await client.get(f"{key}?linkType=linkset")).json()["linkset"]
    assert entry["itemDescription"] == f"Alpha Pumps GTIN {key[4:]}"


async def test_viewers_and_other_tenants_cannot_describe_items(web: Web, web2: Web, tenant_a,
                                                               tenant_b):  # fmt: skip
    gcp = await _verified_gcp(tenant_a)
    key = f"/01/{_gtin(gcp, '043')}"
    await _login(web, tenant_a, "viewer")
    page = f"/console/{tenant_a.prefix}/schemes"
    assert 'id="item-form"' not in (await web.get(page)).text
    r = await web.post(f"{page}/item", {"item_key": key, "description": "x"}, form_page=page)
    assert r.status_code == 403
    await _login(web2, tenant_b)
    r = await web2.post(
        f"{page}/item", {"item_key": key, "description": "x"},
        form_page=f"/console/{tenant_b.prefix}/schemes",
    )  # fmt: skip
    assert r.status_code == 404
    # B's own console cannot describe A's key either: it is not under B's prefixes
    own = f"/console/{tenant_b.prefix}/schemes"
    r = await web2.post(f"{own}/item", {"item_key": key, "description": "x"}, form_page=own)
    assert r.status_code == 400 or r.status_code == 403
    assert "is not under" in r.text
