"""Identifier lifecycle over REST: ``PATCH /api/handles/{handle}`` changes status and
validity, ``GET /api/lifecycle/{handle}`` shows them to the owner, and
``/api/settings/lifecycle`` is the tenant's policy for suspended and expired identifiers.

A path cannot carry ``/status`` after the handle (a suffix may hold "/"), so the change
is a PATCH of the handle itself and the read has its own prefix.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, patch, put
from litestar.di import NamedDependency
from litestar.params import FromPath

from core.auth import Principal
from core.errors import InvalidValue
from core.openapi import body, ok
from tenants.identifiers.schemas import LifecycleAnswer, LifecycleChange, LifecyclePolicy
from tenants.identifiers.services import lifecycle, policy

_json = msgspec.json.Encoder()
JSON = "application/json"


async def _json_body(request: Request[Any, Any, Any]) -> Any:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != JSON and not ctype.endswith("+json"):
        raise InvalidValue(f"the body must be JSON (Content-Type: {JSON})", field="content-type")
    try:
        return msgspec.json.decode(await request.body())
    except msgspec.DecodeError as exc:
        raise InvalidValue(f"the body is not valid JSON: {exc}", field="body") from None


def _ok(answer: dict[str, Any]) -> Response[bytes]:
    return Response(content=_json.encode(answer), media_type=JSON)


@patch(
    "/api/handles/{handle:path}",
    tags=["Registration"],
    summary="Change a handle's status or validity window",
    description=(
        "Body: status (active, suspended, revoked, expired; revoked is final), reason, "
        "validFrom, validUntil (ISO 8601; a date is an Asia/Shanghai day, validUntil "
        "through its end; null clears). Audited, synced upstream as a modify, and seen by "
        "the next resolution."
    ),
    status_code=200,
    responses=ok(LifecycleAnswer),
    operation_class=body(LifecycleChange),
)
async def patch_handle(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal | None],
    handle: FromPath[str],
) -> Response[bytes]:
    change = lifecycle.parse_change(await _json_body(request))
    return _ok(await lifecycle.set_lifecycle(principal, handle.lstrip("/"), change))


@get(
    "/api/lifecycle/{handle:path}",
    tags=["Registration"],
    summary="A handle's status and validity window (its owner's view)",
    responses=ok(LifecycleAnswer),
)
async def get_lifecycle(
    principal: NamedDependency[Principal | None], handle: FromPath[str]
) -> Response[bytes]:
    return _ok(await lifecycle.get_lifecycle(principal, handle.lstrip("/")))


@get(
    "/api/settings/lifecycle",
    tags=["Registration"],
    summary="Your tenant's lifecycle policy",
    responses=ok(LifecyclePolicy),
)
async def get_policy(principal: NamedDependency[Principal | None]) -> Response[bytes]:
    return _ok(await policy.get_policy(principal))


@put(
    "/api/settings/lifecycle",
    tags=["Registration"],
    summary="Set what suspended and expired identifiers answer over HTTP",
    description="suspended: refuse (403) or serve; expired: refuse (410) or serve. Served "
    "answers carry Identifier-Status. Revoked always answers 410.",
    status_code=200,
    responses=ok(LifecyclePolicy),
    operation_class=body(LifecyclePolicy),
)
async def put_policy(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal | None]
) -> Response[bytes]:
    raw = await _json_body(request)
    if not isinstance(raw, dict):
        raise InvalidValue('the body must be {"suspended": ..., "expired": ...}', field="body")
    return _ok(await policy.set_policy(principal, raw))


ROUTES = [patch_handle, get_lifecycle, get_policy, put_policy]
