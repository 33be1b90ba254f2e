"""The SNMS-compatible API (REFERENCE §3): login, single identifiers, batches, templates.

Every answer is the SNMS envelope ``{status, message, data}`` with HTTP 200, as SNMS
clients expect: status 1 ok, -1 not logged in, -2 business error, -3 no permission,
-4 internal error. Writes go through ``tenants.identifiers.services.records`` like every other
door; batches answer per item ``{handle, status, msg}``.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, get, post, put, route
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, ValidationException
from litestar.params import QueryParameter

from core import ratelimit
from core.auth import Principal
from core.errors import (
    SNMS_BUSINESS,
    SNMS_INTERNAL,
    SNMS_NOT_LOGGED_IN,
    SNMS_OK,
    AuthenticationFailed,
    IdnestError,
    InsufficientPermissions,
    InvalidValue,
    RateLimited,
    snms_status_for_rc,
)
from core.openapi import body, ok
from core.values import DEFAULT_PERMISSIONS, value_to_json
from tenants.identifiers.schemas import (
    SNMS_HANDLES,
    SNMS_ITEMS,
    SnmsAnswer,
    SnmsHandle,
    SnmsItem,
    SnmsLogin,
)
from tenants.identifiers.services import batch as batch_writes
from tenants.identifiers.services import records, snms
from tenants.identifiers.services.batch import BatchItem
from tenants.identifiers.services.idempotency import Idempotency, fingerprint, run_once
from tenants.identifiers.services.records import WriteResult
from tenants.identifiers.services.visibility import read_record
from tenants.templates.schemas import TemplateWrite
from tenants.templates.services import templates

log = logging.getLogger("idnest.snms")
MAX_BATCH = 2000
_json = msgspec.json.Encoder()


def envelope(
    status: int,
    message: str,
    data: Any = None,
    *,
    http_status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    body = {"status": status, "message": message, "data": data}
    return Response(content=_json.encode(body), status_code=http_status,
                    media_type="application/json", headers=headers)  # fmt: skip


def _snms_error(_: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    if isinstance(exc, RateLimited):  # the envelope, and a status that says slow down
        return envelope(exc.snms_status, exc.detail, http_status=429,
                        headers={"Retry-After": str(exc.retry_after)})  # fmt: skip
    if isinstance(exc, IdnestError):
        return envelope(exc.snms_status, exc.detail)
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        return envelope(SNMS_BUSINESS, str(exc.detail))
    log.exception("SNMS request failed", exc_info=exc)
    return envelope(SNMS_INTERNAL, "internal error; it has been logged")


# Every class the app maps too: Litestar picks the most specific class over all layers.
HANDLERS: dict[type[Exception] | int, Any] = {
    IdnestError: _snms_error,
    HTTPException: _snms_error,
    ValidationException: _snms_error,
    Exception: _snms_error,
}
# Every SNMS answer is 200 with the envelope, errors too (status -1/-2, SNMS's shape).
SNMS: dict[str, Any] = {
    "exception_handlers": HANDLERS, "tags": ["SNMS"], "status_code": 200,
    "responses": ok(SnmsAnswer, description="SNMS envelope (errors too: status -1 or -2)"),
}  # fmt: skip


async def _body(request: Request[Any, Any, Any]) -> Any:
    raw = await request.body()
    try:
        return msgspec.json.decode(raw) if raw.strip() else None
    except msgspec.DecodeError:
        raise InvalidValue("the body is not valid JSON") from None


@post(
    "/identity/token",
    **SNMS,
    operation_class=body(SnmsLogin),
)
async def token(request: Request[Any, Any, Any]) -> Response[bytes]:
    return await _login(request, v1=False)


@post(
    "/identity/token/v1",
    **SNMS,
    operation_class=body(SnmsLogin),
)
async def token_v1(request: Request[Any, Any, Any]) -> Response[bytes]:
    return await _login(request, v1=True)


async def _login(request: Request[Any, Any, Any], *, v1: bool) -> Response[bytes]:
    body = await _body(request)
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("username"), str)
        or not isinstance(body.get("password"), str)
    ):
        return envelope(SNMS_NOT_LOGGED_IN, "send {username, password}")
    username = body["username"][:128]
    source = request.client.host if request.client else "?"
    limits = ratelimit.get_limits()
    # Throttled like the portal's login: only failures count, per account and per source.
    await limits.check_failures("snms", source, username)
    try:
        tok, ttl = await snms.login(username, body["password"], v1=v1, source=source)
    except AuthenticationFailed:
        await limits.failed("snms", source, username)
        raise
    return envelope(SNMS_OK, "success", {"token": tok, "expiresIn": ttl})


def _items(body: Any) -> list[Any]:
    if isinstance(body, dict):
        for key in ("data", "items", "handles", "list"):
            if isinstance(body.get(key), list):
                return list(body[key])
    if isinstance(body, list):
        return body
    raise InvalidValue("send a JSON list of items (or {data: [...]})")


def _item_result(o: Any) -> dict[str, Any]:
    if isinstance(o, WriteResult):
        return {"handle": o.handle, "status": SNMS_OK, "msg": "success"}
    if isinstance(o, dict):  # a replayed answer
        if "error" in o:
            status = snms_status_for_rc(o.get("rc", 2))
            return {"handle": o.get("handle"), "status": status, "msg": o["error"]}
        return {"handle": o["handle"], "status": SNMS_OK, "msg": "success"}
    return {"handle": getattr(o, "handle", None), "status": o.snms_status, "msg": o.detail}


async def _write(
    request: Request[Any, Any, Any], caller: Principal, raw_items: list[Any], mode: str
) -> list[dict]:
    batch: list[BatchItem] = []
    for item in raw_items:
        if not isinstance(item, dict) or not isinstance(item.get("handle"), str):
            batch.append(BatchItem("", None))
            continue
        try:
            batch.append(BatchItem(item["handle"], snms.to_handle_values(item)))
        except IdnestError:
            batch.append(BatchItem(item["handle"], item.get("value")))
    guard = None
    key = request.headers.get("idempotency-key")
    if key is not None and caller.tenant_id is not None:
        guard = Idempotency(
            caller.tenant_id,
            key,
            fingerprint(request.method, request.url.path, await request.body()),
        )
    answer, _ = await run_once(
        guard,
        lambda g: batch_writes.put_records(caller, batch, mode=mode, idempotency=g),
        lambda outcomes: [batch_writes.outcome_json(o) for o in outcomes],
    )
    return [_item_result(o) for o in answer]


def _single(results: list[dict]) -> Response[bytes]:
    r = results[0]
    return envelope(
        r["status"], r["msg"], {"handle": r["handle"]} if r["status"] == SNMS_OK else None
    )


@post(
    "/identityv2/data",
    **SNMS,
    operation_class=body(SnmsItem),
)
async def create(
    request: Request[Any, Any, Any], caller: NamedDependency[Principal]
) -> Response[bytes]:
    return _single(await _write(request, caller, [await _body(request)], "create"))


@put(
    "/identityv2/data",
    **SNMS,
    operation_class=body(SnmsItem),
)
async def update(
    request: Request[Any, Any, Any], caller: NamedDependency[Principal]
) -> Response[bytes]:
    return _single(await _write(request, caller, [await _body(request)], "update"))


@delete(
    "/identityv2/data",
    **SNMS,
    operation_class=body(SnmsHandle),
)
async def remove(
    request: Request[Any, Any, Any], caller: NamedDependency[Principal]
) -> Response[bytes]:
    body = await _body(request)
    handle = body.get("handle") if isinstance(body, dict) else None
    handle = handle or request.query_params.get("handle")
    if not isinstance(handle, str):
        raise InvalidValue("send {handle}")
    result = await records.delete_record(caller, handle)
    return envelope(SNMS_OK, "success", {"handle": result.handle})


def _check_size(items: list[Any]) -> None:
    if len(items) > MAX_BATCH:
        raise InvalidValue(
            f"a batch takes at most {MAX_BATCH} items, got {len(items)}; use /api/bulk/jobs"
        )


@post(
    "/identityv2/data/batchCreate",
    **SNMS,
    operation_class=body(SNMS_ITEMS),
)
async def batch_create(
    request: Request[Any, Any, Any], caller: NamedDependency[Principal]
) -> Response[bytes]:
    items = _items(await _body(request))
    _check_size(items)
    return _batch_answer(await _write(request, caller, items, "create"))


@put(
    "/identityv2/data/batchUpdate",
    **SNMS,
    operation_class=body(SNMS_ITEMS),
)
async def batch_update(
    request: Request[Any, Any, Any], caller: NamedDependency[Principal]
) -> Response[bytes]:
    items = _items(await _body(request))
    _check_size(items)
    return _batch_answer(await _write(request, caller, items, "update"))


@delete(
    "/identityv2/data/batchDelete",
    **SNMS,
    operation_class=body(SNMS_HANDLES),
)
async def batch_delete(
    request: Request[Any, Any, Any], caller: NamedDependency[Principal]
) -> Response[bytes]:
    items = _items(await _body(request))
    _check_size(items)
    results = []
    for item in items:
        handle = item.get("handle") if isinstance(item, dict) else item
        try:
            if not isinstance(handle, str):
                raise InvalidValue("each item needs a handle")
            await records.delete_record(caller, handle)
            results.append({"handle": handle, "status": SNMS_OK, "msg": "success"})
        except IdnestError as exc:
            results.append({"handle": handle, "status": exc.snms_status, "msg": exc.detail})
    return _batch_answer(results)


def _batch_answer(results: list[dict]) -> Response[bytes]:
    failed = sum(1 for r in results if r["status"] != SNMS_OK)
    message = "success" if not failed else f"{failed} of {len(results)} items failed"
    return envelope(SNMS_OK if not failed else SNMS_BUSINESS, message, results)


@get("/identityv2/data/detail", **SNMS)
async def detail(
    caller: NamedDependency[Principal],
    resolver: NamedDependency[Any],
    handle: Annotated[str, QueryParameter(name="handle")],
) -> Response[bytes]:
    record = await read_record(caller, handle)
    # SNMS's query door: a resolution like any other, counted by the resolver's counters
    # (the app's ``resolver`` dependency; tenants/ does not import the resolver package).
    if caller.tenant_id is not None:
        resolver.counters.hit(caller.tenant_id)
    version = next((v.data.value for v in record.values if v.index == 1001), "")
    values = []
    for v in record.values:
        j = value_to_json(v)
        j["auth"] = 0 if v.public_read else 1
        if v.permissions == DEFAULT_PERMISSIONS:
            j.pop("permissions", None)
        values.append(j)
    data = {"handle": record.handle, "templateVersion": version, "value": values}
    return envelope(SNMS_OK, "success", data)


@get("/snms/api/v5/template", **SNMS)
async def list_templates(
    caller: NamedDependency[Principal],
    prefix: Annotated[str | None, QueryParameter(required=False)] = None,
    version: Annotated[str | None, QueryParameter(required=False)] = None,
) -> Response[bytes]:
    if (
        prefix
        and caller.tenant_prefix
        and prefix.lower()
        not in (
            caller.tenant_prefix.lower(),
            caller.tenant_prefix.rsplit(".", 1)[0].lower(),
        )
    ):
        raise InsufficientPermissions(f"you cannot read the templates of {prefix}")
    code, number = templates.split_ref(version) if version else (None, None)
    found = await templates.list_templates(caller.tenant_id, code=code, version=number)
    return envelope(SNMS_OK, "success", [t.to_snms() for t in found])


@route(
    "/snms/api/v5/template",
    http_method=["POST", "PUT"],
    **SNMS,
    operation_class=body(TemplateWrite),
)
async def save_template(
    request: Request[Any, Any, Any], caller: NamedDependency[Principal]
) -> Response[bytes]:
    """Create a tenant template (usually ``extends`` a node template) or its next version."""
    if not caller.can("write") or caller.tenant_id is None:
        raise InsufficientPermissions("editing templates needs write access to a tenant")
    body = await _body(request)
    if not isinstance(body, dict) or not isinstance(body.get("code"), str):
        raise InvalidValue("send {code, name, extends, items: [...]}")
    guard = None
    key = request.headers.get("idempotency-key")
    if key is not None:
        raw = await request.body()
        guard = Idempotency(caller.tenant_id, key, fingerprint("template", raw))
    answer, _ = await run_once(
        guard,
        lambda g: templates.save_template(
            owner_tenant=caller.tenant_id,
            code=body["code"],
            body=body,
            actor=caller.actor,
            idempotency=g,
        ),
        lambda t: {"ref": t.ref, "tenant": caller.tenant_id},
    )
    saved = await templates.get_template(caller.tenant_id, answer["ref"])
    return envelope(SNMS_OK, "success", saved.to_snms())


ROUTES = [
    token,
    token_v1,
    create,
    update,
    remove,
    batch_create,
    batch_update,
    batch_delete,
    detail,
    list_templates,
    save_template,
]
