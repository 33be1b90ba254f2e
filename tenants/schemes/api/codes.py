"""The schemes REST API for tenants' own systems (API keys, as the Handle API).

Thin: decode, authenticate, call ``tenants.schemes.services``. Paths:

- ``/api/v1/namespaces``: the tenant's GS1 prefix, OID sub-arc, issuer codes;
- ``/api/v1/schemes/{gs1|oid|ecode|vaa}/codes[/{code}]``: registered codes;
- ``/api/v1/gs1/...``: GS1 Digital Link links and item descriptions (``api/gs1.py``);
- ``/api/v1/mappings``, ``/bulk``, ``/resolve``: private ↔ public mapping.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from core.auth import Principal
from core.errors import InvalidValue
from core.openapi import body
from core.openapi import ok as doc
from core.values import value_to_json
from tenants.identifiers.schemas import ValueOut
from tenants.schemes.api import gs1 as api_gs1
from tenants.schemes.api.common import Page, PageSize, json_body, ok, raw_key
from tenants.schemes.schemas import (
    CodeIn,
    CodeOut,
    CodePage,
    ItemError,
    MappingBulkAnswer,
    MappingIn,
    MappingItemResult,
    MappingOut,
    MappingPage,
    MappingResolved,
    MappingWritten,
    NamespaceIn,
    NamespaceList,
    NamespaceOut,
    PublicMappings,
)
from tenants.schemes.services import codes, mappings, namespaces
from tenants.schemes.services.common import require


def _ns(info: namespaces.NamespaceInfo) -> NamespaceOut:
    return NamespaceOut(info.scheme, info.value, info.status, info.created_at, info.verified_at)


def _code(info: codes.CodeInfo) -> CodeOut:
    return CodeOut(info.scheme, info.code, info.handle, info.created_at)


def _mapping_fields(m: mappings.MappingInfo) -> tuple[str, str, str, datetime, datetime]:
    """A mapping's fields in the order of MappingOut (and its subclasses' leading ones)."""
    return m.private_code, m.public, m.handle, m.created_at, m.updated_at


def _mapping(info: mappings.MappingInfo) -> MappingOut:
    return MappingOut(*_mapping_fields(info))


# -- namespaces ------------------------------------------------------------------------
@get(
    "/api/v1/namespaces",
    tags=["Schemes"],
    summary="Your namespaces and their review status",
    responses=doc(NamespaceList),
)
async def list_namespaces(principal: NamedDependency[Principal | None]) -> Response[bytes]:
    p = require(principal, "read")
    return ok(NamespaceList([_ns(n) for n in await namespaces.list_namespaces(p.tenant_id)]))


@post(
    "/api/v1/namespaces",
    tags=["Schemes"],
    summary="Claim a GS1 company prefix or Ecode/VAA issuer code (pending review), or get "
    "an OID sub-arc (scheme oid, no value: allocated at once)",
    responses=doc(NamespaceOut, 201),
    operation_class=body(NamespaceIn),
)
async def claim_namespace(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal | None]
) -> Response[bytes]:
    body = await json_body(request, NamespaceIn)
    p = require(principal, "write")
    assert p.tenant_id is not None
    info = await namespaces.request_namespace(p.tenant_id, body.scheme, body.value, actor=p.actor)
    return ok(_ns(info), 201)


# -- scheme codes ----------------------------------------------------------------------
@post(
    "/api/v1/schemes/{scheme:str}/codes",
    tags=["Schemes"],
    summary="Register a code",
    responses=doc(CodeOut, 201),
    operation_class=body(CodeIn),
)
async def register_code(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal | None],
    scheme: FromPath[str],
) -> Response[bytes]:
    body = await json_body(request, CodeIn)
    info = await codes.register_code(
        principal,
        scheme,
        body.code,
        handle=body.handle,
        url=body.url,
        link_type=body.link_type,
        title=body.title,
    )
    return ok(_code(info), 201)


@get(
    "/api/v1/schemes/{scheme:str}/codes",
    tags=["Schemes"],
    summary="List your codes",
    responses=doc(CodePage),
)
async def list_codes(
    principal: NamedDependency[Principal | None],
    scheme: FromPath[str],
    page: Page = 0,
    page_size: PageSize = 100,
) -> Response[bytes]:
    total, items = await codes.list_codes(principal, scheme, page=page, page_size=page_size)
    return ok(CodePage(total, page, [_code(c) for c in items]))


@get(
    "/api/v1/schemes/{scheme:str}/codes/{code:path}",
    tags=["Schemes"],
    summary="One code",
    responses=doc(CodeOut),
)
async def get_code(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal | None],
    scheme: FromPath[str],
    code: FromPath[str],
) -> Response[bytes]:
    return ok(_code(await codes.get_code(principal, scheme, _code_arg(request, scheme, code))))


@delete(
    "/api/v1/schemes/{scheme:str}/codes/{code:path}",
    tags=["Schemes"],
    summary="Unregister a code (its Handle record stays)",
    status_code=200,
    responses=doc(CodeOut),
)
async def unregister_code(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal | None],
    scheme: FromPath[str],
    code: FromPath[str],
) -> Response[bytes]:
    info = await codes.unregister_code(principal, scheme, _code_arg(request, scheme, code))
    return ok(_code(info))


def _code_arg(request: Request[Any, Any, Any], scheme: str, code: str) -> str:
    """{code:path} arrives percent-decoded with a leading "/". A GS1 key is itself a
    Digital Link path whose values may hold an escaped "/", so take it raw."""
    if scheme != "gs1":
        return code.lstrip("/")
    return raw_key(request, "/codes/", code)


# -- mappings --------------------------------------------------------------------------
@get(
    "/api/v1/mappings",
    tags=["Mappings"],
    summary="Your private-code mappings",
    responses=doc(MappingPage),
)
async def list_mappings(
    principal: NamedDependency[Principal | None], page: Page = 0, page_size: PageSize = 100
) -> Response[bytes]:
    total, items = await mappings.list_mappings(principal, page=page, page_size=page_size)
    return ok(MappingPage(total, page, [_mapping(m) for m in items]))


@post(
    "/api/v1/mappings",
    tags=["Mappings"],
    summary="Map a private code to a public identifier (a handle, or gs1:/01/..., oid:...)",
    responses=doc(MappingWritten, 200, 201),
    operation_class=body(MappingIn),
)
async def put_mapping(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal | None]
) -> Response[bytes]:
    b = await json_body(request, MappingIn)
    result = await mappings.put_mapping(principal, b.private_code, b.public)
    assert result.mapping is not None
    written = MappingWritten(*_mapping_fields(result.mapping), result.status)
    return ok(written, 201 if result.status == "created" else 200)


@post(
    "/api/v1/mappings/bulk",
    tags=["Mappings"],
    summary="Map many private codes: a JSON array; one result per item, in order",
    status_code=200,
    responses=doc(MappingBulkAnswer),
    operation_class=body(list[Any]),
)
async def put_mappings(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal | None]
) -> Response[bytes]:
    items = await json_body(request, list[Any])
    results = await mappings.put_mappings(principal, items)
    out: list[MappingItemResult] = []
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
        item = MappingItemResult(r.index, r.private_code, r.status)
        if r.error is not None:
            e = r.error
            item.error = ItemError(e.http_status, e.title, e.detail, e.field)
        elif r.mapping is not None:
            item.public, item.handle = r.mapping.public, r.mapping.handle
        out.append(item)
    return ok(MappingBulkAnswer(counts, out))


@get(
    "/api/v1/mappings/resolve",
    tags=["Mappings"],
    summary="Resolve ?private=CODE to its identifier and record, or ?public=ID to its codes",
    responses=doc(MappingResolved | PublicMappings),
)
async def resolve_mapping(
    principal: NamedDependency[Principal | None],
    private: Annotated[str | None, QueryParameter(name="private", required=False)] = None,
    public: Annotated[str | None, QueryParameter(name="public", required=False)] = None,
) -> Response[bytes]:
    if (private is None) == (public is None):
        raise InvalidValue("give exactly one of ?private= and ?public=", field="private")
    if private is not None:
        resolved = await mappings.resolve_private(principal, private)
        values = resolved.values
        shown = None if values is None else [value_to_json(v) for v in values]
        typed = msgspec.convert(shown, list[ValueOut] | None)
        return ok(MappingResolved(*_mapping_fields(resolved.mapping), typed))
    assert public is not None
    found = await mappings.resolve_public(principal, public)
    return ok(PublicMappings(public, [_mapping(m) for m in found]))


@delete(
    "/api/v1/mappings", tags=["Mappings"], summary="Delete the mapping of ?private=CODE",
    status_code=200, responses=doc(MappingOut))  # fmt: skip
async def delete_mapping(
    principal: NamedDependency[Principal | None],
    private: Annotated[str, QueryParameter(name="private")],
) -> Response[bytes]:
    return ok(_mapping(await mappings.delete_mapping(principal, private)))


ROUTES = [
    *api_gs1.ROUTES,
    list_namespaces,
    claim_namespace,
    register_code,
    list_codes,
    get_code,
    unregister_code,
    list_mappings,
    put_mapping,
    put_mappings,
    resolve_mapping,
    delete_mapping,
]
