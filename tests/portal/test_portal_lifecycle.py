"""The console's identifier page: status, validity window, the change and policy forms,
and the identifier's resolutions per day; a viewer gets no form and is refused; another
tenant's member sees nothing."""

from __future__ import annotations

import pytest
from portal_support import Web, add_member, form_fields

pytestmark = pytest.mark.anyio
JSON = {"Content-Type": "application/json"}


async def _record(client, t, suffix: str) -> str:
    h = f"{t.prefix}/{suffix}"
    values = [{"index": 1, "type": "URL", "data": "https://example.com/c"}]
    r = await client.put(f"/api/handles/{h}", json=values, headers={**t.auth(), **JSON})
    assert r.status_code == 201
    return h


async def test_the_owner_changes_status_and_sees_usage(web: Web, client, tenant_a) -> None:
    from resolver.observability import recorder

    h = await _record(client, tenant_a, "CON-1")
    assert (await client.get(f"/api/handles/{h}")).status_code == 200
    await recorder.record_interval()
    r = await web.login(await add_member(tenant_a.id, "owner"))
    page_url = f"/console/{tenant_a.prefix}/identifier?h=CON-1"
    r = await web.get(page_url + "&lang=en")
    assert r.status_code == 200 and 'id="status-form"' in r.text
    assert '<strong id="usage-total">1</strong>' in r.text and "<svg" in r.text
    fields = form_fields(r.text, "status-form")
    assert fields["status"] == "active"
    fields.update({"status": "suspended", "reason": "stock check", "validUntil": "2030-12-31"})
    fields.pop("_csrf_token", None)
    r = await web.post(f"/console/{tenant_a.prefix}/identifier/status", fields, form_page=page_url)
    assert r.status_code == 303
    r = await web.get(page_url + "&lang=en")
    assert 'id="status">suspended<' in r.text and "stock check" in r.text
    assert "2030-12-31T16:00:00+00:00" in r.text
    assert (await client.get(f"/api/handles/{h}")).status_code == 403  # seen at once
    # Bad input comes back as a notice on the page, nothing changes.
    fields.update({"status": "active", "validFrom": "2031-01-01"})
    r = await web.post(f"/console/{tenant_a.prefix}/identifier/status", fields, form_page=page_url)
    assert r.status_code == 303
    r = await web.get(page_url + "&lang=en")
    assert "validUntil must be after validFrom" in r.text and 'id="status">suspended<' in r.text
    policy = form_fields(r.text, "policy-form")
    policy.pop("_csrf_token", None)
    policy["suspended"] = "serve"
    r = await web.post(f"/console/{tenant_a.prefix}/lifecycle-policy", policy, form_page=page_url)
    assert r.status_code == 303
    r = await client.get(f"/api/handles/{h}")
    assert r.status_code == 200 and r.headers["identifier-status"] == "suspended"


async def test_a_viewer_sees_the_status_but_cannot_change_it(web: Web, client, tenant_a) -> None:
    await _record(client, tenant_a, "CON-2")
    await web.login(await add_member(tenant_a.id, "viewer"))
    page_url = f"/console/{tenant_a.prefix}/identifier?h=CON-2"
    r = await web.get(page_url)
    assert (
        r.status_code == 200 and 'id="status-form"' not in r.text and 'id="usage-total"' in r.text
    )
    r = await web.post(
        f"/console/{tenant_a.prefix}/identifier/status",
        {"suffix": "CON-2", "status": "revoked"},
        form_page=page_url,
    )
    assert r.status_code == 303  # refused by the write path, shown as a notice
    assert (await client.get(f"/api/handles/{tenant_a.prefix}/CON-2")).status_code == 200


async def test_another_tenants_member_reaches_nothing(web: Web, client, tenant_a, tenant_b) -> None:
    await _record(client, tenant_a, "CON-3")
    await web.login(await add_member(tenant_b.id, "owner"))
    r = await web.get(f"/console/{tenant_a.prefix}/identifier?h=CON-3")
    assert r.status_code == 404
    r = await web.post(
        f"/console/{tenant_a.prefix}/identifier/status",
        {"suffix": "CON-3", "status": "revoked"},
        form_page=f"/console/{tenant_b.prefix}",
    )
    assert r.status_code == 404
    assert (await client.get(f"/api/handles/{tenant_a.prefix}/CON-3")).status_code == 200
