"""Resolution of OIDs, Ecodes and VAA codes through their own syntax.

``/oid/{dotted}``, ``/ecode/{code}`` and ``/vaa/{code}`` find the owning tenant from
its verified namespace (the OID sub-arc, the issuer code), then the Handle record the
code is bound to, and answer as the Handle proxy does: 302 to the record's first
public URL, or the record itself (``?noredirect``, or when it has no URL). Restricted
values show only to the owning tenant's own credentials with ``publicOnly=false``.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect

from core.auth import Principal
from core.errors import HandleNotFound, InvalidValue
from core.http import NO_COOKIES
from core.openapi import REDIRECT, ok
from core.schemes import SchemeError
from core.schemes.ecode import validate_ecode
from core.schemes.oid import validate_oid
from core.schemes.vaa import validate_vaa
from resolver.cache import encode_body
from resolver.gs1.cache import scheme_cache
from resolver.service import Query, Resolver
from tenants.identifiers.schemas import HandleRecord
from tenants.schemes.services.common import ecode_rules, vaa_rules

JSON = "application/json"
LABELS = {"oid": "OID", "ecode": "Ecode", "vaa": "VAA code"}


def _canonical(scheme: str, code: str) -> str:
    try:
        if scheme == "oid":
            return validate_oid(code)
        if scheme == "ecode":
            return validate_ecode(code, rules=ecode_rules()).code
        return validate_vaa(code, rules=vaa_rules()).code
    except SchemeError as exc:
        raise InvalidValue(exc.message, field=scheme) from None


async def _resolve(
    request: Request[Any, Any, Any],
    principal: Principal | None,
    resolver: Resolver,
    scheme: str,
    code: str,
    public_only: bool,
) -> Response[Any]:
    canonical = _canonical(scheme, code)
    bound = await scheme_cache(resolver.cache).bound(scheme, canonical)
    if bound is None:
        raise HandleNotFound(f"{LABELS[scheme]} {canonical} is not registered on this node")
    record = await resolver.lookup(bound.handle)
    if "noredirect" not in request.query_params and record.redirect and principal is None:
        return Redirect(record.redirect, status_code=302)
    values = await resolver.view_for(record, Query(public_only=public_only), principal)
    return Response(content=encode_body(record.handle, values), media_type=JSON)


_DESCRIPTION = (
    "302 to the bound Handle record's first public URL; with ?noredirect, or credentials, "
    "the record as JSON (publicOnly=false shows restricted values to the owning tenant)."
)


@get(
    "/oid/{dotted:str}",
    tags=["Resolution"],
    opt=NO_COOKIES,
    summary="Resolve an OID",
    description=_DESCRIPTION,
    responses={**ok(HandleRecord), **REDIRECT},
)
async def resolve_oid(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal | None],
    resolver: NamedDependency[Resolver],
    dotted: FromPath[str],
    public_only: Annotated[bool, QueryParameter(name="publicOnly", required=False)] = True,
) -> Response[Any]:
    return await _resolve(request, principal, resolver, "oid", dotted, public_only)


@get(
    "/ecode/{code:str}",
    tags=["Resolution"],
    opt=NO_COOKIES,
    summary="Resolve an Ecode",
    description=_DESCRIPTION,
    responses={**ok(HandleRecord), **REDIRECT},
)
async def resolve_ecode(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal | None],
    resolver: NamedDependency[Resolver],
    code: FromPath[str],
    public_only: Annotated[bool, QueryParameter(name="publicOnly", required=False)] = True,
) -> Response[Any]:
    return await _resolve(request, principal, resolver, "ecode", code, public_only)


@get(
    "/vaa/{code:str}",
    tags=["Resolution"],
    opt=NO_COOKIES,
    summary="Resolve a VAA code",
    description=_DESCRIPTION,
    responses={**ok(HandleRecord), **REDIRECT},
)
async def resolve_vaa(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal | None],
    resolver: NamedDependency[Resolver],
    code: FromPath[str],
    public_only: Annotated[bool, QueryParameter(name="publicOnly", required=False)] = True,
) -> Response[Any]:
    return await _resolve(request, principal, resolver, "vaa", code, public_only)


ROUTES = [resolve_oid, resolve_ecode, resolve_vaa]
