"""The GS1 part of the schemes API: Digital Link links and item descriptions.

- ``/api/v1/gs1/links[/{id}]``: the links of each GS1 key path (what it redirects to);
- ``/api/v1/gs1/items[/{key}]``: what each key path is, in words (the linkset's
  ``itemDescription``).

Thin: decode, authenticate, call ``tenants.schemes.services``. HEAD is answered for
every GET by ``core.head``.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from core.auth import Principal
from core.limits import DbId
from core.openapi import body
from core.openapi import ok as doc
from tenants.schemes.api.common import (
    BoundedPage,
    PageSize,
    json_body,
    ok,
    raw_key,
)
from tenants.schemes.schemas import ItemIn, ItemOut, ItemPage, LinkIn, LinkList, LinkOut, LinkPatch
from tenants.schemes.services import items, links


# -- GS1 links -------------------------------------------------------------------------
@get(
    "/api/v1/gs1/links",
    tags=["GS1"],
    summary="Your GS1 links (all, or ?key=/01/...)",
    responses=doc(LinkList),
)
async def list_links(
    principal: NamedDependency[Principal | None],
    key: Annotated[str | None, QueryParameter(name="key", required=False)] = None,
) -> Response[bytes]:
    items = await links.list_links(principal, key)
    return ok(LinkList(items))


@post(
    "/api/v1/gs1/links",
    tags=["GS1"],
    summary="Add a link to a GS1 key path",
    responses=doc(LinkOut, 201),
    operation_class=body(LinkIn),
)
async def add_link(
    request: Request[Any, Any, Any], principal: NamedDependency[Principal | None]
) -> Response[bytes]:
    b = await json_body(request, LinkIn)
    info = await links.add_link(
        principal,
        b.key,
        link_type=b.link_type,
        href=b.href,
        title=b.title,
        language=b.language,
        context=b.context,
        media_type=b.media_type,
        is_default=b.is_default,
    )
    return ok(info, 201)


@get(
    "/api/v1/gs1/links/{link_id:int}", tags=["GS1"], summary="One link", responses=doc(LinkOut)
)
async def get_link(principal: NamedDependency[Principal | None], link_id: DbId) -> Response[bytes]:
    return ok(await links.get_link(principal, link_id))


@patch(
    "/api/v1/gs1/links/{link_id:int}",
    tags=["GS1"],
    summary="Change a link",
    responses=doc(LinkOut),
    operation_class=body(LinkPatch),
)
async def update_link(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal | None],
    link_id: DbId,
) -> Response[bytes]:
    b = await json_body(request, LinkPatch)
    changes = {k: v for k, v in msgspec.structs.asdict(b).items() if v is not msgspec.UNSET}
    return ok(await links.update_link(principal, link_id, changes))


@delete(
    "/api/v1/gs1/links/{link_id:int}",
    tags=["GS1"],
    summary="Delete a link",
    status_code=200,
    responses=doc(LinkOut),
)
async def delete_link(
    principal: NamedDependency[Principal | None], link_id: DbId
) -> Response[bytes]:
    return ok(await links.delete_link(principal, link_id))


# -- GS1 item descriptions ---------------------------------------------------------------
def _item(info: items.ItemInfo) -> ItemOut:
    return ItemOut(info.key, info.description, info.created_at, info.updated_at)


@get(
    "/api/v1/gs1/items",
    tags=["GS1"],
    summary="Your GS1 item descriptions (the linksets' itemDescription), by key path",
    responses=doc(ItemPage),
)
async def list_items(
    principal: NamedDependency[Principal | None], page: BoundedPage = 0, page_size: PageSize = 100
) -> Response[bytes]:
    total, found = await items.list_items(principal, page=page, page_size=page_size)
    return ok(ItemPage(total, page, [_item(i) for i in found]))


@get(
    "/api/v1/gs1/items/{key:path}",
    tags=["GS1"],
    summary="The description of one GS1 key path",
    responses=doc(ItemOut),
)
async def get_item(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal | None],
    key: FromPath[str],
) -> Response[bytes]:
    info = await items.get_item(principal, raw_key(request, "/items/", key))
    return ok(_item(info))


@put(
    "/api/v1/gs1/items/{key:path}",
    tags=["GS1"],
    summary="Describe a GS1 key path (201 when new, 200 when replaced)",
    responses=doc(ItemOut, 200, 201),
    operation_class=body(ItemIn),
)
async def put_item(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal | None],
    key: FromPath[str],
) -> Response[bytes]:
    body = await json_body(request, ItemIn)
    info, created = await items.set_item(
        principal, raw_key(request, "/items/", key), body.description
    )
    return ok(_item(info), 201 if created else 200)


@delete(
    "/api/v1/gs1/items/{key:path}",
    tags=["GS1"],
    summary="Drop the description of a GS1 key path (its links stay)",
    status_code=200,
    responses=doc(ItemOut),
)
async def delete_item(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal | None],
    key: FromPath[str],
) -> Response[bytes]:
    info = await items.delete_item(principal, raw_key(request, "/items/", key))
    return ok(_item(info))


ROUTES = [
    list_links,
    add_link,
    get_link,
    update_link,
    delete_link,
    list_items,
    get_item,
    put_item,
    delete_item,
]
