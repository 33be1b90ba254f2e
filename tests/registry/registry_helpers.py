"""Shared helpers for registry tests: SNMS logins and record writes."""

from __future__ import annotations

import uuid
from typing import Any

JSON = {"Content-Type": "application/json"}


async def snms_login(client: Any, prefix: str, role: str = "developer") -> dict[str, str]:
    from tenants.identifiers.services.snms import create_account

    username = f"u{uuid.uuid4().hex[:10]}"
    await create_account(prefix, username, "correct-horse-1", role=role, actor="test")
    r = await client.post(
        "/identity/token", json={"username": username, "password": "correct-horse-1"}
    )
    assert r.status_code == 200 and r.json()["status"] == 1, r.text
    return {"Authorization": f"Bearer {r.json()['data']['token']}"}


async def put_values(
    client: Any, t: Any, handle: str, values: list[dict], key: str | None = None
) -> Any:
    return await client.put(
        f"/api/handles/{handle}", json={"values": values}, headers={**t.auth(key), **JSON}
    )


def sv(index: int, vtype: str, value: str, permissions: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "index": index,
        "type": vtype,
        "data": {"format": "string", "value": value},
    }
    if permissions:
        out["permissions"] = permissions
    return out
