"""Statistics by enterprise and by industry for staff, and each tenant's own in its
console, with charts and CSV; the figures are core.usage's (what billing charges)."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
from portal_support import Web, add_member, staff_login

pytestmark = pytest.mark.anyio


async def _usage(tenant_id: int, registrations: int, resolved: int, missing: int) -> str:
    from core import usage

    at = usage.now()
    await usage.record_registrations(tenant_id, registrations, at=at)
    await usage.record_window(uuid.uuid4().hex, {tenant_id: (resolved, missing)}, hour=at)
    return usage.shanghai_day(at).isoformat()


def _csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


async def test_staff_see_statistics_by_enterprise_and_industry(
    web: Web, client, tenant_a, tenant_b
):
    day = await _usage(tenant_a.id, 4, 10, 3)
    await _usage(tenant_b.id, 1, 2, 0)
    await staff_login(web, "reviewer")
    page = await web.get("/staff/statistics?days=7")
    assert page.status_code == 200 and page.text.count("<svg") == 3
    assert tenant_a.prefix in page.text and tenant_b.prefix in page.text
    rows = _csv((await web.get("/staff/statistics.csv?days=7")).text)
    assert rows[0] == ["day", "prefix", "name", "industry", "registrations", "queries", "successes"]
    mine = [r for r in rows if r[1] == tenant_a.prefix]
    assert mine == [[day, tenant_a.prefix, "Alpha Pumps", "", "4", "13", "10"]]
    by_industry = _csv((await web.get("/staff/statistics.csv?days=7&by=industry")).text)
    assert by_industry[0][:3] == ["day", "industry", "industry_name"]
    unclassified = [r for r in by_industry if r[0] == day and r[1] == ""]
    assert unclassified and int(unclassified[0][3]) >= 5  # both tenants, no industry chosen
    bad = await web.get("/staff/statistics?days=100000")
    assert bad.status_code == 400


async def test_a_tenant_sees_its_own_statistics_only(web: Web, client, tenant_a, tenant_b):
    day = await _usage(tenant_a.id, 2, 5, 1)
    await _usage(tenant_b.id, 9, 9, 9)
    owner = await add_member(tenant_a.id, "viewer")
    assert (await web.login(owner)).status_code == 303
    page = await web.get(f"/console/{tenant_a.prefix}/statistics?days=3")
    assert page.status_code == 200 and page.text.count("<svg") == 3
    rows = _csv((await web.get(f"/console/{tenant_a.prefix}/statistics.csv?days=3")).text)
    assert rows[0] == ["day", "registrations", "queries", "successes"] and len(rows) == 4
    assert [day, "2", "6", "5"] in rows
    assert (await web.get(f"/console/{tenant_b.prefix}/statistics.csv")).status_code in (403, 404)
