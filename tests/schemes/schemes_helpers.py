"""Helpers for the schemes tests: fresh namespaces per test (they are node-wide unique,
and the database is shared by the whole run), GS1 keys built with real check digits."""

from __future__ import annotations

import itertools
import random
from typing import Any

from core.schemes.gs1 import gs1_check_digit

JSON = {"Content-Type": "application/json"}
_counter = itertools.count(random.randrange(10**6))


def fresh_gcp() -> str:
    """A 9-digit GS1 China company prefix no other test uses."""
    return f"69{next(_counter) % 10**7:07d}"


def gtin(gcp: str, item: int = 1) -> str:
    body = "0" + gcp + f"{item:0{12 - len(gcp)}d}"
    return body + str(gcp_check(body))


def gcp_check(body: str) -> int:
    return gs1_check_digit(body)


def wrong_check(code: str) -> str:
    return code[:-1] + str((int(code[-1]) + 1) % 10)


async def grant(tenant: Any, scheme: str, value: str | None = None) -> str:
    """Claim and verify a namespace for `tenant` (as staff would)."""
    from tenants.schemes.services.namespaces import request_namespace, review_namespace

    info = await request_namespace(tenant.id, scheme, value, actor="test")
    if info.status != "verified":
        info = await review_namespace(scheme, info.value, verified=True, actor="staff:test")
    return info.value


async def register(client: Any, t: Any, scheme: str, code: str, **extra: Any) -> Any:
    return await client.post(
        f"/api/v1/schemes/{scheme}/codes",
        json={"code": code, **extra},
        headers={**t.auth(), **JSON},
    )


async def add_link(client: Any, t: Any, key: str, href: str, **extra: Any) -> Any:
    body = {"key": key, "link_type": extra.pop("link_type", "gs1:pip"), "href": href, **extra}
    return await client.post("/api/v1/gs1/links", json=body, headers={**t.auth(), **JSON})
