"""HTTP resolution: the Handle.net REST read API and the proxy (``GET /{handle}``).

Cache hits without filters or credentials never reach these handlers: the fast path
in ``resolver.fastpath`` answers them. These handlers fill the cache and serve
everything else (filters, authorised views, authoritative reads, HTML).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect

from core.auth import Principal
from core.errors import NotFound
from core.http import NO_COOKIES
from core.limits import HandleIndex
from core.openapi import ok
from resolver.cache import Record, encode_body
from resolver.lifecycle import admit
from resolver.pages import render_record
from resolver.service import Query, Resolver
from tenants.identifiers.schemas import HandleRecord

_json = msgspec.json.Encoder()
JSON = "application/json"


def _wants_html(request: Request[Any, Any, Any]) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


def _status_headers(record: Record) -> dict[str, str]:
    """``Identifier-Status`` for a record its tenant's policy serves although it is not
    active (suspended or expired, core/lifecycle.py); lookup has refused the others."""
    state = admit(record) if record.lifecycle is not None else None
    return {"Identifier-Status": state} if state else {}


@get(
    "/api/handles/{handle:path}",
    tags=["Resolution"],
    opt=NO_COOKIES,
    summary="Resolve a handle (Handle.net REST API)",
    description=(
        "Public values only, unless the caller is authorised for the handle's tenant and "
        "asks publicOnly=false. type and index filter the values (repeatable; a type "
        "ending in '.' matches its sub-types). auth=true skips the cache."
    ),
    responses=ok(HandleRecord),
)
async def resolve(
    principal: NamedDependency[Principal | None],
    resolver: NamedDependency[Resolver],
    handle: FromPath[str],
    index: Annotated[list[HandleIndex] | None, QueryParameter(name="index", required=False)] = None,
    types: Annotated[list[str] | None, QueryParameter(name="type", required=False)] = None,
    auth: Annotated[bool, QueryParameter(name="auth", required=False)] = False,
    public_only: Annotated[bool, QueryParameter(name="publicOnly", required=False)] = True,
) -> Response[bytes]:
    record = await resolver.lookup(handle.lstrip("/"), authoritative=auth)
    headers = _status_headers(record)
    query = Query(
        indices=frozenset(index or ()),
        types=tuple(types or ()),
        public_only=public_only,
        authoritative=auth,
    )
    if not query.filtered and (query.public_only or principal is None):
        return Response(content=record.public_body, media_type=JSON, headers=headers)
    values = await resolver.view_for(record, query, principal)
    return Response(content=encode_body(record.handle, values), media_type=JSON, headers=headers)


@get(
    "/{handle:path}",
    tags=["Resolution"],
    opt=NO_COOKIES,
    summary="Proxy: redirect to the handle's URL, or show the record",
    description="302 to the first public URL value. With ?noredirect the record is shown: "
    "HTML for browsers, JSON for Accept: application/json.",
    responses={
        **ok(HandleRecord),
        302: ResponseSpec(None, description="Redirect to the handle's first public URL"),
    },
)
async def proxy(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal | None],
    resolver: NamedDependency[Resolver],
    handle: FromPath[str],
    public_only: Annotated[bool, QueryParameter(name="publicOnly", required=False)] = True,
) -> Response[Any]:
    text = handle.lstrip("/")
    if "/" not in text:
        raise NotFound(f"nothing here at /{text}")
    record = await resolver.lookup(text)
    status = _status_headers(record)
    # Credentials with publicOnly=false ask for the record itself: the owner's own
    # values, or what a partner's grants reveal (tenants/grants).
    authorised = principal is not None and not public_only
    if "noredirect" not in request.query_params and record.redirect and not authorised:
        return Redirect(record.redirect, status_code=302, headers=status)
    # The same URL answers HTML or JSON by Accept: caches must keep them apart.
    vary = {"Vary": "Accept, Authorization"} if authorised else {"Vary": "Accept"}
    vary.update(status)
    if authorised:
        values = await resolver.view_for(record, Query(public_only=False), principal)
        if _wants_html(request):
            html = render_record(record.handle, values)
            return Response(content=html, media_type="text/html", headers=vary)
        return Response(content=encode_body(record.handle, values), media_type=JSON, headers=vary)
    if _wants_html(request):
        return Response(
            content=render_record(record.handle, record.public),
            media_type="text/html",
            headers=vary,
        )
    return Response(content=record.public_body, media_type=JSON, headers=vary)


ROUTES = [resolve, proxy]
