"""Console: the export button, its progress and download; the owner's closure, its
grace period and cancel; the erasure the scheduler runs once the grace period is over."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from portal_support import Web, add_member

pytestmark = pytest.mark.anyio


async def _login(web: Web, tenant, role: str = "owner") -> None:
    r = await web.login(await add_member(tenant.id, role))
    assert r.status_code == 303


async def test_console_export_progress_and_download(web: Web, tenant_a, tenant_b) -> None:
    from tenants.ownership import jobs

    await _login(web, tenant_a, "viewer")  # every member may take the data out
    page = f"/console/{tenant_a.prefix}/exports"
    r = await web.post(page, {}, form_page=page)
    assert r.status_code in (302, 303), r.text
    location = r.headers["location"]
    await jobs.wait_local()
    text = (await web.get(location)).text
    assert 'id="export-status" role="status">done<' in text and "<progress" in text
    link = re.search(r'href="([^"]+/download\?token=[^"]+)"', text)
    assert link is not None, text
    url = link.group(1).replace("&amp;", "&")
    whole = await web.get(url)
    assert whole.status_code == 200 and whole.content[:2] == b"\x1f\x8b"
    part = await web.get(url, headers={"Range": "bytes=10-"})
    assert part.status_code == 206 and part.content == whole.content[10:]
    other = url.replace(tenant_a.prefix, tenant_b.prefix, 1)
    assert (await web.get(other)).status_code in (403, 404)


async def test_owner_closes_cancels_and_the_scheduler_erases(web: Web, tenant_a, client) -> None:
    from tenants.ownership import jobs
    from tenants.ownership.services import closure
    from tenants.ownership.services.erasure import verify_erased

    r = await client.put(
        f"/api/handles/{tenant_a.prefix}/C-1",
        json=[{"index": 1, "type": "URL", "data": "https://a.example/c"}],
        headers=tenant_a.auth(),
    )
    assert r.status_code == 201
    await _login(web, tenant_a, "owner")
    page = f"/console/{tenant_a.prefix}/exports"
    r = await web.post(f"/console/{tenant_a.prefix}/closure", {}, form_page=page)
    assert r.status_code in (302, 303), r.text
    await jobs.wait_local()
    text = (await web.get(page)).text
    assert 'id="closure-pending"' in text and 'id="closure-cancel"' in text
    pending = await closure.pending_closure(tenant_a.id)
    assert pending is not None
    assert pending.erase_after - pending.requested_at == timedelta(days=30)
    final = (await client.get(f"/api/exports/{pending.export_id}", headers=tenant_a.auth())).json()
    assert final["status"] == "done" and final["download"], "the final export is offered"
    # Cancelled: the grace period passing erases nothing.
    r = await web.post(f"/console/{tenant_a.prefix}/closure/cancel", {}, form_page=page)
    assert r.status_code in (302, 303)
    later = datetime.now(UTC) + timedelta(days=31)
    assert tenant_a.prefix not in await closure.erase_due(later)
    # Requested again, then the grace period runs out: erased on the scheduler's run.
    await web.post(f"/console/{tenant_a.prefix}/closure", {}, form_page=page)
    await jobs.wait_local()
    assert await closure.erase_due(datetime.now(UTC) + timedelta(days=29)) == []
    assert await closure.erase_due(later) == [tenant_a.prefix]
    assert (await verify_erased(tenant_a.prefix)).ok
    r = await client.get(f"/api/handles/{tenant_a.prefix}/C-1")
    assert r.status_code == 410


async def test_only_the_owner_may_close(web: Web, tenant_a) -> None:
    await _login(web, tenant_a, "admin")
    page = f"/console/{tenant_a.prefix}/exports"
    assert 'id="closure-request"' not in (await web.get(page)).text
    r = await web.post(f"/console/{tenant_a.prefix}/closure", {}, form_page=page)
    assert r.status_code == 403
