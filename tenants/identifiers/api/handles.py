"""The Handle.net REST dialect's write side: PUT and DELETE ``/api/handles/{handle}``,
and the authenticated handle listing ``GET /api/handles?prefix=``.

Thin: parse the request, authenticate, call ``tenants.identifiers.services.records``.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from core.auth import Principal
from core.errors import AuthenticationNeeded, InvalidValue
from core.limits import MAX_INDEX, MAX_PAGE, HandleIndex, bounded_int
from core.openapi import body, ok
from tenants.identifiers.schemas import HANDLE_WRITE, HandleList, WriteAnswer
from tenants.identifiers.services import lifecycle, records
from tenants.identifiers.services.idempotency import Idempotency, fingerprint, run_once

_json = msgspec.json.Encoder()
JSON = "application/json"


def _ok(body: dict[str, Any], status: int = 200) -> Response[bytes]:
    return Response(content=_json.encode(body), status_code=status, media_type=JSON)


async def _json_body(request: Request[Any, Any, Any]) -> Any:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json" and not ctype.endswith("+json"):
        raise InvalidValue(
            f"the body must be JSON (Content-Type: application/json), got {ctype or 'none'!r}",
            field="content-type",
        )
    raw = await request.body()
    if not raw.strip():
        raise InvalidValue('the body is empty; send {"values": [...]}', field="values")
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise InvalidValue(f"the body is not valid JSON: {exc}", field="values") from None


def _indices(raw: list[str] | None) -> tuple[list[int] | None, bool]:
    if not raw:
        return None, False
    if any(r.strip().lower() == "various" for r in raw):
        return None, True
    return [bounded_int(r, field="index", low=0, high=MAX_INDEX) for r in raw], False


@put(
    "/api/handles/{handle:path}",
    tags=["Registration"],
    summary="Create or replace a handle (Handle.net REST API)",
    description=(
        "Body: {values:[...]}, a bare list, or one value. overwrite=false refuses an "
        "existing handle (409, rc 101). index=N (repeatable) or index=various updates "
        "only those values. mintNewSuffix=true with a handle ending in '/' lets the "
        "server choose the suffix. A create answers 201. An Idempotency-Key header makes "
        "a retry answer the first response instead of writing again. status, reason, "
        "validFrom and validUntil beside values set the lifecycle in the same transaction "
        "(as PATCH does)."
    ),
    status_code=200,
    responses=ok(WriteAnswer, 200, 201),
    operation_class=body(HANDLE_WRITE),
)
async def put_handle(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal | None],
    handle: FromPath[str],
    overwrite: Annotated[bool, QueryParameter(name="overwrite", required=False)] = True,
    index: Annotated[list[str] | None, QueryParameter(name="index", required=False)] = None,
    mint: Annotated[bool, QueryParameter(name="mintNewSuffix", required=False)] = False,
) -> Response[bytes]:
    if principal is None:
        raise AuthenticationNeeded(
            "registration needs an API key (Authorization: Bearer ...) or HTTP Basic",
            handle=handle.lstrip("/"),
        )
    body, change = lifecycle.split_put_body(await _json_body(request))
    indices, various = _indices(index)
    guard = None
    idem_key = request.headers.get("idempotency-key")
    if idem_key is not None and principal.tenant_id is not None:
        guard = Idempotency(
            principal.tenant_id,
            idem_key,
            fingerprint("PUT", request.url.path, str(request.url.query), await request.body()),
        )
    result, _ = await run_once(
        guard,
        lambda g: records.put_record(
            principal,
            handle.lstrip("/"),
            body,
            overwrite=overwrite,
            indices=indices,
            index_various=various,
            mint_suffix=mint,
            idempotency=g
            if change is None
            else lifecycle.WithLifecycle(g, change, principal.tenant_id or 0, principal.actor),
        ),
        lambda r: {"handle": r.handle, "created": r.created, "version": r.version},
    )
    return _ok({"responseCode": 1, "handle": result["handle"]}, 201 if result["created"] else 200)


@delete(
    "/api/handles/{handle:path}",
    tags=["Registration"],
    summary="Delete a handle, or only some of its values (?index=N)",
    status_code=200,
    responses=ok(WriteAnswer),
)
async def delete_handle(
    principal: NamedDependency[Principal | None],
    handle: FromPath[str],
    index: Annotated[list[HandleIndex] | None, QueryParameter(name="index", required=False)] = None,
) -> Response[bytes]:
    result = await records.delete_record(principal, handle.lstrip("/"), indices=index)
    return _ok({"responseCode": 1, "handle": result.handle})


@get(
    "/api/handles",
    tags=["Registration"],
    summary="List the handles under one of your prefixes",
    description="Zero-based pages; pageSize=0 gives only totalCount.",
    responses=ok(HandleList),
)
async def list_handles(
    principal: NamedDependency[Principal | None],
    prefix: Annotated[str, QueryParameter(name="prefix")],
    page: Annotated[int, QueryParameter(name="page", ge=0, le=MAX_PAGE, required=False)] = 0,
    page_size: Annotated[
        int, QueryParameter(name="pageSize", ge=0, le=10000, required=False)
    ] = 1000,
) -> Response[bytes]:
    result = await records.list_handles(principal, prefix, page=page, page_size=page_size)
    body: dict[str, Any] = {
        "responseCode": 1,
        "prefix": result.prefix,
        "totalCount": result.total,
    }
    if page_size:
        body["page"] = page
        body["pageSize"] = page_size
        body["handles"] = result.handles
    return _ok(body)


ROUTES = [put_handle, delete_handle, list_handles]
