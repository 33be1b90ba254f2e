"""The audit log in the consoles: a tenant sees its own entries (filters, CSV), never
another tenant's; staff see every tenant's."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
from portal_support import Web, add_member, staff_login

pytestmark = pytest.mark.anyio


async def _entries(tenant_id: int, marker: str) -> None:
    from core import audit

    await audit.record(actor=f"key:{marker}", action="apikey.create", target=marker,
                       tenant_id=tenant_id, detail={"scopes": "read"})  # fmt: skip
    await audit.record(actor=f"snms:{marker}", action="login.failed", target="snms",
                       tenant_id=tenant_id, detail={"door": "v1"})  # fmt: skip


def _csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


async def test_a_tenant_sees_its_own_audit_entries_with_filters(web: Web, tenant_a, tenant_b):
    a, b = f"a{uuid.uuid4().hex[:8]}", f"b{uuid.uuid4().hex[:8]}"
    await _entries(tenant_a.id, a)
    await _entries(tenant_b.id, b)
    member = await add_member(tenant_a.id, "viewer")
    assert (await web.login(member)).status_code == 303
    base = f"/console/{tenant_a.prefix}/audit"
    page = await web.get(base)
    assert page.status_code == 200 and a in page.text and b not in page.text
    failed = await web.get(f"{base}?action=login&actor=snms:")
    assert f"snms:{a}" in failed.text and f"key:{a}" not in failed.text
    rows = _csv((await web.get(f"{base}.csv?action=apikey")).text)
    assert rows[0][:3] == ["id", "created_at", "tenant_id"]
    assert [r[3] for r in rows[1:] if a in r[3]] == [f"key:{a}"]
    assert all(b not in ",".join(r) for r in rows)
    dated = await web.get(f"{base}?from=2000-01-01&to=2000-01-02")
    assert dated.status_code == 200 and a not in dated.text
    assert "a date like" in (await web.get(f"{base}?from=yesterday")).text


async def test_b_cannot_see_a_tenants_audit_page(web: Web, tenant_a, tenant_b):
    a = f"a{uuid.uuid4().hex[:8]}"
    await _entries(tenant_a.id, a)
    member_b = await add_member(tenant_b.id, "owner")
    assert (await web.login(member_b)).status_code == 303
    for path in ("", ".csv", "?action=login"):
        r = await web.get(f"/console/{tenant_a.prefix}/audit{path}")
        assert r.status_code == 404 and a not in r.text
    own = await web.get(f"/console/{tenant_b.prefix}/audit.csv")
    assert own.status_code == 200 and a not in own.text
    assert (await web.get("/staff/audit")).status_code == 404  # not staff


async def test_staff_see_every_tenants_entries(web: Web, tenant_a, tenant_b):
    a, b = f"a{uuid.uuid4().hex[:8]}", f"b{uuid.uuid4().hex[:8]}"
    await _entries(tenant_a.id, a)
    await _entries(tenant_b.id, b)
    await staff_login(web, "reviewer")
    page = await web.get("/staff/audit?action=apikey")
    assert page.status_code == 200 and a in page.text and b in page.text
    rows = _csv((await web.get(f"/staff/audit.csv?actor={b}")).text)
    assert {r[3] for r in rows[1:]} == {f"key:{b}", f"snms:{b}"}
