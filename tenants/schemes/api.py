"""The schemes REST API for tenants' own systems (API keys, as the Handle API).

Thin: decode, authenticate, call ``tenants.schemes.services``. Paths:

- ``/api/v1/namespaces``: the tenant's GS1 prefix, OID sub-arc, issuer codes;
- ``/api/v1/schemes/{gs1|oid|ecode|vaa}/codes[/{code}]``: registered codes;
- ``/api/v1/gs1/links[/{id}]``: GS1 Digital Link links per key;
- ``/api/v1/mappings``, ``/bulk``, ``/resolve``: private ↔ public mapping.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Request, Response, delete, get, patch, post
from litestar.params import FromPath, QueryParameter

from core.auth import Principal
from core.errors import InvalidValue
from core.limits import MAX_PAGE, DbId
from core.values import value_to_json
from tenants.auth import authenticate_headers
from tenants.schemes.schemas import CodeIn, LinkIn, LinkPatch, MappingIn, NamespaceIn
from tenants.schemes.services import codes, links, mappings, namespaces
from tenants.schemes.services.common import require

S = TypeVar("S")
JSON = "application/json"
_json = msgspec.json.Encoder()
Page = Annotated[int, QueryParameter(name="page", ge=0, le=MAX_PAGE, required=False)]
PageSize = Annotated[int, QueryParameter(name="pageSize", ge=1, le=1000, required=False)]


def _enc(obj: Any) -> Any:
    if isinstance(obj, datetime):
        return obj.isoformat().replace("+00:00", "Z")
    raise NotImplementedError


def _ok(body: Any, status: int = 200) -> Response[bytes]:
    return Response(
        content=msgspec.json.encode(body, enc_hook=_enc), status_code=status, media_type=JSON
    )


async def _principal(request: Request[Any, Any, Any]) -> Principal | None:
    return await authenticate_headers(request.headers)


async def _body(request: Request[Any, Any, Any], kind: type[S]) -> S:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != JSON and not ctype.endswith("+json"):
        raise InvalidValue(
            f"the body must be JSON (Content-Type: application/json), got {ctype or 'none'!r}",
            field="content-type",
        )
    try:
        return msgspec.json.decode(await request.body(), type=kind)
    except msgspec.ValidationError as exc:
        raise InvalidValue(f"body: {exc}", field="body") from None
    except msgspec.DecodeError as exc:
        raise InvalidValue(f"the body is not valid JSON: {exc}", field="body") from None


def _ns(info: namespaces.NamespaceInfo) -> dict[str, Any]:
    return {
        "scheme": info.scheme,
        "value": info.value,
        "status": info.status,
        "createdAt": info.created_at,
        "verifiedAt": info.verified_at,
    }


def _code(info: codes.CodeInfo) -> dict[str, Any]:
    return {"scheme": info.scheme, "code": info.code, "handle": info.handle,
            "createdAt": info.created_at}  # fmt: skip


def _mapping(info: mappings.MappingInfo) -> dict[str, Any]:
    return {
        "privateCode": info.private_code,
        "public": info.public,
        "handle": info.handle,
        "createdAt": info.created_at,
        "updatedAt": info.updated_at,
    }


# -- namespaces ------------------------------------------------------------------------
@get("/api/v1/namespaces", tags=["Schemes"], summary="Your namespaces and their review status")
async def list_namespaces(request: Request[Any, Any, Any]) -> Response[bytes]:
    p = require(await _principal(request), "read")
    return _ok({"namespaces": [_ns(n) for n in await namespaces.list_namespaces(p.tenant_id)]})


@post(
    "/api/v1/namespaces",
    tags=["Schemes"],
    summary="Claim a GS1 company prefix or Ecode/VAA issuer code (pending review), or get "
    "an OID sub-arc (scheme oid, no value: allocated at once)",
)
async def claim_namespace(request: Request[Any, Any, Any]) -> Response[bytes]:
    body = await _body(request, NamespaceIn)
    p = require(await _principal(request), "write")
    assert p.tenant_id is not None
    info = await namespaces.request_namespace(p.tenant_id, body.scheme, body.value, actor=p.actor)
    return _ok(_ns(info), 201)


# -- scheme codes ----------------------------------------------------------------------
@post("/api/v1/schemes/{scheme:str}/codes", tags=["Schemes"], summary="Register a code")
async def register_code(request: Request[Any, Any, Any], scheme: FromPath[str]) -> Response[bytes]:
    body = await _body(request, CodeIn)
    info = await codes.register_code(
        await _principal(request),
        scheme,
        body.code,
        handle=body.handle,
        url=body.url,
        link_type=body.link_type,
        title=body.title,
    )
    return _ok(_code(info), 201)


@get("/api/v1/schemes/{scheme:str}/codes", tags=["Schemes"], summary="List your codes")
async def list_codes(
    request: Request[Any, Any, Any],
    scheme: FromPath[str],
    page: Page = 0,
    page_size: PageSize = 100,
) -> Response[bytes]:
    total, items = await codes.list_codes(
        await _principal(request), scheme, page=page, page_size=page_size
    )
    return _ok({"totalCount": total, "page": page, "codes": [_code(c) for c in items]})


@get("/api/v1/schemes/{scheme:str}/codes/{code:path}", tags=["Schemes"], summary="One code")
async def get_code(
    request: Request[Any, Any, Any], scheme: FromPath[str], code: FromPath[str]
) -> Response[bytes]:
    return _ok(
        _code(
            await codes.get_code(
                await _principal(request), scheme, _code_arg(request, scheme, code)
            )
        )
    )


@delete(
    "/api/v1/schemes/{scheme:str}/codes/{code:path}",
    tags=["Schemes"],
    summary="Unregister a code (its Handle record stays)",
    status_code=200,
)
async def unregister_code(
    request: Request[Any, Any, Any], scheme: FromPath[str], code: FromPath[str]
) -> Response[bytes]:
    info = await codes.unregister_code(
        await _principal(request), scheme, _code_arg(request, scheme, code)
    )
    return _ok(_code(info))


def _code_arg(request: Request[Any, Any, Any], scheme: str, code: str) -> str:
    """{code:path} arrives percent-decoded with a leading "/". A GS1 key is itself a
    Digital Link path whose values may hold an escaped "/", so take it raw."""
    if scheme != "gs1":
        return code.lstrip("/")
    raw = request.scope.get("raw_path") or b""
    raw_text = raw.split(b"?", 1)[0].decode("latin-1")
    marker = "/codes/"
    return raw_text[raw_text.index(marker) + len(marker) - 1 :] if marker in raw_text else code


# -- GS1 links -------------------------------------------------------------------------
def _link(info: links.LinkInfo) -> dict[str, Any]:
    data = asdict(info)
    data["isDefault"] = data.pop("is_default")
    data["linkType"] = data.pop("link_type")
    data["mediaType"] = data.pop("media_type")
    return data


@get("/api/v1/gs1/links", tags=["GS1"], summary="Your GS1 links (all, or ?key=/01/...)")
async def list_links(
    request: Request[Any, Any, Any],
    key: Annotated[str | None, QueryParameter(name="key", required=False)] = None,
) -> Response[bytes]:
    items = await links.list_links(await _principal(request), key)
    return _ok({"links": [_link(x) for x in items]})


@post("/api/v1/gs1/links", tags=["GS1"], summary="Add a link to a GS1 key path")
async def add_link(request: Request[Any, Any, Any]) -> Response[bytes]:
    b = await _body(request, LinkIn)
    info = await links.add_link(
        await _principal(request),
        b.key,
        link_type=b.link_type,
        href=b.href,
        title=b.title,
        language=b.language,
        context=b.context,
        media_type=b.media_type,
        is_default=b.is_default,
    )
    return _ok(_link(info), 201)


@get("/api/v1/gs1/links/{link_id:int}", tags=["GS1"], summary="One link")
async def get_link(request: Request[Any, Any, Any], link_id: DbId) -> Response[bytes]:
    return _ok(_link(await links.get_link(await _principal(request), link_id)))


@patch("/api/v1/gs1/links/{link_id:int}", tags=["GS1"], summary="Change a link")
async def update_link(request: Request[Any, Any, Any], link_id: DbId) -> Response[bytes]:
    b = await _body(request, LinkPatch)
    changes = {k: v for k, v in msgspec.structs.asdict(b).items() if v is not msgspec.UNSET}
    return _ok(_link(await links.update_link(await _principal(request), link_id, changes)))


@delete("/api/v1/gs1/links/{link_id:int}", tags=["GS1"], summary="Delete a link", status_code=200)
async def delete_link(request: Request[Any, Any, Any], link_id: DbId) -> Response[bytes]:
    return _ok(_link(await links.delete_link(await _principal(request), link_id)))


# -- mappings --------------------------------------------------------------------------
@get("/api/v1/mappings", tags=["Mappings"], summary="Your private-code mappings")
async def list_mappings(
    request: Request[Any, Any, Any], page: Page = 0, page_size: PageSize = 100
) -> Response[bytes]:
    total, items = await mappings.list_mappings(
        await _principal(request), page=page, page_size=page_size
    )
    return _ok({"totalCount": total, "page": page, "mappings": [_mapping(m) for m in items]})


@post(
    "/api/v1/mappings",
    tags=["Mappings"],
    summary="Map a private code to a public identifier (a handle, or gs1:/01/..., oid:...)",
)
async def put_mapping(request: Request[Any, Any, Any]) -> Response[bytes]:
    b = await _body(request, MappingIn)
    result = await mappings.put_mapping(await _principal(request), b.private_code, b.public)
    assert result.mapping is not None
    return _ok(
        {"status": result.status, **_mapping(result.mapping)},
        201 if result.status == "created" else 200,
    )


@post(
    "/api/v1/mappings/bulk",
    tags=["Mappings"],
    summary="Map many private codes: a JSON array; one result per item, in order",
    status_code=200,
)
async def put_mappings(request: Request[Any, Any, Any]) -> Response[bytes]:
    items = await _body(request, list[Any])
    results = await mappings.put_mappings(await _principal(request), items)
    out = []
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
        item: dict[str, Any] = {"index": r.index, "privateCode": r.private_code, "status": r.status}
        if r.error is not None:
            item["error"] = {
                "status": r.error.http_status,
                "title": r.error.title,
                "detail": r.error.detail,
                "field": r.error.field,
            }
        elif r.mapping is not None:
            item["public"] = r.mapping.public
            item["handle"] = r.mapping.handle
        out.append(item)
    return _ok({"counts": counts, "results": out})


@get(
    "/api/v1/mappings/resolve",
    tags=["Mappings"],
    summary="Resolve ?private=CODE to its identifier and record, or ?public=ID to its codes",
)
async def resolve_mapping(
    request: Request[Any, Any, Any],
    private: Annotated[str | None, QueryParameter(name="private", required=False)] = None,
    public: Annotated[str | None, QueryParameter(name="public", required=False)] = None,
) -> Response[bytes]:
    principal = await _principal(request)
    if (private is None) == (public is None):
        raise InvalidValue("give exactly one of ?private= and ?public=", field="private")
    if private is not None:
        resolved = await mappings.resolve_private(principal, private)
        body = _mapping(resolved.mapping)
        body["values"] = (
            None if resolved.values is None else [value_to_json(v) for v in resolved.values]
        )
        return _ok(body)
    found = await mappings.resolve_public(principal, public)
    return _ok({"public": public, "mappings": [_mapping(m) for m in found]})


@delete(
    "/api/v1/mappings", tags=["Mappings"], summary="Delete the mapping of ?private=CODE",
    status_code=200,
)  # fmt: skip
async def delete_mapping(
    request: Request[Any, Any, Any],
    private: Annotated[str, QueryParameter(name="private")],
) -> Response[bytes]:
    return _ok(_mapping(await mappings.delete_mapping(await _principal(request), private)))


ROUTES = [
    list_namespaces,
    claim_namespace,
    register_code,
    list_codes,
    get_code,
    unregister_code,
    list_links,
    add_link,
    get_link,
    update_link,
    delete_link,
    list_mappings,
    put_mapping,
    put_mappings,
    resolve_mapping,
    delete_mapping,
]
