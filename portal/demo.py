"""``idnest demo``: a tenant with a few identifiers, so a newcomer can try it at once."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from core.auth import Principal
from tenants.accounts.services.apikeys import create_key
from tenants.accounts.services.tenants import create_tenant
from tenants.accounts.services.users import create_member
from tenants.identifiers.services.records import put_record

DEMO_RECORDS = [
    (
        "PUMP-000123",
        [
            {"index": 1, "type": "URL", "data": "https://example.com/products/pump-000123"},
            {"index": 2, "type": "EMAIL", "data": "service@example.com"},
            {"index": 2000, "type": "model", "data": "CP-200 centrifugal pump"},
        ],
    ),
    (
        "VALVE-7781",
        [
            {"index": 1, "type": "URL", "data": "https://example.com/products/valve-7781"},
            {
                "index": 3,
                "type": "DESC",
                "data": "DN50 gate valve, batch 2026-11",
                "permissions": "1100",
            },
        ],
    ),
    (
        "LINE-3/MOTOR-12",
        [
            {"index": 1, "type": "URL", "data": "https://example.com/assets/line-3/motor-12"},
        ],
    ),
]


@dataclass(frozen=True, slots=True)
class DemoResult:
    prefix: str
    key: str
    handles: list[str]
    # The demo tenant's console login (an owner), so the console can be seen at once.
    email: str
    password: str


async def seed_demo() -> DemoResult:
    tenant = await create_tenant("Demo Pumps Co. (演示泵业)", actor="cli:demo")
    key, _ = await create_key(tenant.prefix, scopes="read,write", name="demo", actor="cli:demo")
    principal = Principal(
        actor="cli:demo",
        tenant_id=tenant.id,
        tenant_prefix=tenant.prefix,
        scopes=frozenset({"read", "write"}),
    )
    handles = []
    for suffix, values in DEMO_RECORDS:
        result = await put_record(principal, f"{tenant.prefix}/{suffix}", {"values": values})
        handles.append(result.handle)
    email = f"demo-{tenant.code}@demo.idnest.local"
    password = secrets.token_urlsafe(12)
    await create_member(tenant.id, email, password, role="owner", actor="cli:demo")
    return DemoResult(tenant.prefix, key, handles, email, password)
