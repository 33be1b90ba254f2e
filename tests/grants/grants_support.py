"""Tenant A (the owner) with restricted values on a few records; B, the partner."""

from __future__ import annotations

from typing import Any

JSON = {"Content-Type": "application/json"}
PASSWORD = "correct horse battery"
SECRET = "never-granted-secret"


def restricted(index: int, vtype: str, data: str) -> dict[str, Any]:
    return {"index": index, "type": vtype, "data": data, "permissions": "1100"}


def records(prefix: str) -> dict[str, list[dict[str, Any]]]:
    """Every record's restricted data says its handle and type, so a leak names itself."""
    out: dict[str, list[dict[str, Any]]] = {}
    for suffix in ("P-1", "P-2", "Q-1"):
        out[suffix] = [
            {"index": 1, "type": "URL", "data": f"https://example.com/{suffix}"},
            restricted(2, "BATCH.COST", f"cost-{suffix}"),
            restricted(3, "EMAIL", f"mail-{suffix}"),
            restricted(4, "HS_SECKEY", f"{SECRET}-{suffix}"),
        ]
    out["T-1"] = [
        {"index": 1001, "type": "HS_TEMPLATE", "data": "core"},
        {"index": 2000, "type": "name", "data": "Pump T-1"},
        restricted(2001, "manufacturer", "maker-T-1"),
    ]
    return out


async def fill(client: Any, owner: Any) -> None:
    for suffix, values in records(owner.prefix).items():
        r = await client.put(f"/api/handles/{owner.prefix}/{suffix}", json={"values": values},
                             headers={**owner.auth(), **JSON})  # fmt: skip
        assert r.status_code in (200, 201), r.text


async def seen(client: Any, handle: str, headers: dict[str, str]) -> set[str]:
    """The restricted data a caller sees on ``GET /api/handles/..?publicOnly=false``."""
    r = await client.get(f"/api/handles/{handle}?publicOnly=false", headers=headers)
    assert r.status_code == 200, r.text
    found = {str(v["data"]["value"]) for v in r.json()["values"]}
    return {d for d in found if d.startswith(("cost-", "mail-", "maker-", SECRET))}


async def grant(http: Any, owner: Any, partner: Any, **selector: str) -> str:
    r = await http.post("/api/grants", json={"to": partner.prefix, **selector},
                          headers={**owner.auth(), **JSON})  # fmt: skip
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def snms_token(http: Any, prefix: str) -> str:
    """An SNMS admin account of the tenant, logged in: its bearer token."""
    import uuid

    from tenants.identifiers.services.snms import create_account

    username = f"snms-{uuid.uuid4().hex[:10]}"
    await create_account(prefix, username, "correct-horse-1", role="admin", actor="test")
    r = await http.post("/identity/token", json={"username": username,
                                                 "password": "correct-horse-1"})  # fmt: skip
    assert r.json()["status"] == 1, r.text
    return str(r.json()["data"]["token"])


async def console_login(http: Any, tenant_id: int, role: str = "owner") -> str:
    """A member of the tenant logged in on ``http`` (HTTPS base URL); a CSRF token."""
    import re
    import uuid
    from datetime import UTC, datetime

    from core.auth import hash_password
    from core.tenancy import tenant_transaction
    from portal.web import throttle
    from tenants.accounts.tables import Membership, User

    throttle.reset_limiter()
    addr = f"{role}-{uuid.uuid4().hex[:10]}@example.com"
    uid = (await User.insert(User(email=addr, password_hash=hash_password(PASSWORD),
                                  created_at=datetime.now(UTC))).returning(User.id).run()
           )[0]["id"]  # fmt: skip
    async with tenant_transaction(tenant_id):
        await Membership.insert(Membership(tenant_id=tenant_id, user=uid, role=role,
                                           created_at=datetime.now(UTC))).run()  # fmt: skip
    token = re.search(r'name="_csrf_token" value="([^"]+)"', (await http.get("/login")).text)
    assert token
    r = await http.post("/login", data={"email": addr, "password": PASSWORD,
                                        "_csrf_token": token.group(1)})  # fmt: skip
    assert r.status_code == 303, r.text
    page = (await http.get(r.headers["location"])).text
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page)
    return token.group(1) if token else ""
