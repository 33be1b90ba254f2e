"""Tenant console, machine clients: create (the secret shown once), list, revoke; viewers
read only; another tenant's console and client ids are not found."""

from __future__ import annotations

import re

import pytest
from portal_support import Web, add_member

pytestmark = pytest.mark.anyio


async def _login(web: Web, tenant, role: str = "owner") -> None:
    r = await web.login(await add_member(tenant.id, role))
    assert r.status_code == 303


async def test_create_list_revoke_in_the_console(web: Web, tenant_a) -> None:
    from core.tables import AuditLog
    from core.tenancy import tenant_transaction
    from tenants.clients.services.clients import list_clients

    await _login(web, tenant_a)
    page = f"/console/{tenant_a.prefix}/clients"
    assert "机器客户端" in (await web.get(page)).text  # Chinese by default
    r = await web.get(page + "?lang=en")
    assert r.status_code == 200 and "Machine clients" in r.text and "Nothing here." in r.text
    r = await web.post(
        page, {"name": "wms", "scopes": ["read", "write"], "allowed_ips": "10.0.0.0/8, 192.0.2.1"},
        form_page=page,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    secret = re.search(r'id="new-client-secret" class="key" value="([^"]+)"', r.text)
    assert secret and len(secret.group(1)) >= 40
    (made,) = await list_clients(tenant_a.id)
    assert made.name == "wms" and made.scopes == "read,write"
    assert made.allowed_ips == "10.0.0.0/8,192.0.2.1/32"
    listed = (await web.get(page)).text
    assert made.client_id in listed and secret.group(1) not in listed  # shown once
    r = await web.post(page, {"name": "x", "allowed_ips": "not-an-ip"}, form_page=page)
    assert r.status_code == 400 and "not-an-ip" in r.text
    r = await web.post(f"{page}/{made.client_id}/revoke", {}, form_page=page)
    assert r.status_code == 303
    assert (await list_clients(tenant_a.id))[0].revoked_at is not None
    async with tenant_transaction(tenant_a.id, write=False):
        rows = (
            await AuditLog.select(AuditLog.action, AuditLog.actor)
            .where((AuditLog.tenant_id == tenant_a.id) & (AuditLog.target == made.client_id))
            .run()
        )
    assert sorted(r["action"] for r in rows) == ["client.create", "client.revoke"]
    assert all(r["actor"].startswith("user:") for r in rows)


async def test_viewer_reads_only_and_other_tenants_get_404(web: Web, tenant_a, tenant_b) -> None:
    from tenants.clients.services.clients import create_client, list_clients

    _, a_client = await create_client(tenant_a.prefix, name="a-erp", actor="test")
    await _login(web, tenant_b, "viewer")
    own = f"/console/{tenant_b.prefix}/clients"
    r = await web.get(own)
    assert r.status_code == 200 and 'id="create-client"' not in r.text
    assert (await web.post(own, {"name": "x"}, form_page=own)).status_code == 403
    a_page = f"/console/{tenant_a.prefix}/clients"
    r = await web.get(a_page)
    assert r.status_code == 404 and a_client.client_id not in r.text
    assert (await web.post(a_page, {"name": "x"}, form_page=own)).status_code == 404
    r = await web.post(f"{own}/{a_client.client_id}/revoke", {}, form_page=own)
    assert r.status_code in (403, 404)
    assert (await list_clients(tenant_a.id))[0].revoked_at is None
