"""Machine clients over HTTP: the token endpoint, its metadata and keys, and a tenant's
client management.

``POST /oauth/token`` (client credentials; HTTP Basic or form credentials) answers
RFC 6749 JSON, errors included. ``/.well-known/jwks.json`` publishes the signing keys,
``/.well-known/oauth-authorization-server`` the RFC 8414 metadata. ``/api/clients``
lists, creates and revokes a tenant's clients with one of its API keys (a write-scoped
one to change anything); a client's own token may not manage clients.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from core.auth import SCOPES, Principal
from core.errors import InsufficientPermissions
from core.openapi import body, ok
from tenants.clients import schemas
from tenants.clients.services import clients, keys, server, tokens

_json = msgspec.json.Encoder()
FORM = "application/x-www-form-urlencoded"
_TOKEN_FORM = {
    "type": "object",
    "properties": {"grant_type": {"const": "client_credentials"}, "scope": {"type": "string"},
                   "client_id": {"type": "string"}, "client_secret": {"type": "string"}},
    "required": ["grant_type"],
}  # fmt: skip


def _ok(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(
        content=_json.encode(body),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


@post(
    "/oauth/token",
    tags=["OAuth2"],
    summary="An access token for a machine client (client credentials grant)",
    status_code=200,
    responses={**ok(schemas.TokenResponse), **ok(schemas.OAuthError, 400, 401, 403)},
    operation_class=body(raw=_TOKEN_FORM, media_types=(FORM,)),
)
async def token(request: Request[Any, Any, Any]) -> Response[bytes]:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != FORM:
        status, body, headers = (
            400,
            {
                "error": "invalid_request",
                "error_description": f"send the parameters as {FORM}",
            },
            [("Cache-Control", "no-store")],
        )
    else:
        form = await request.form()
        fields = {k: str(v) for k, v in form.items() if isinstance(v, str)}
        status, body, headers = await server.token_response(
            request.method,
            str(request.url),
            request.headers,
            fields,
            request.client.host if request.client else None,
        )
    return _ok(body, status, dict(headers))


@get("/.well-known/jwks.json", tags=["OAuth2"], summary="The keys that sign access tokens",
     responses=ok(schemas.JwkSet))  # fmt: skip
async def jwks() -> Response[bytes]:
    published = msgspec.convert(await keys.jwks(), schemas.JwkSet)
    return _ok(published, headers={"Cache-Control": "public, max-age=60"})


@get(
    "/.well-known/oauth-authorization-server",
    tags=["OAuth2"],
    summary="Authorization server metadata (RFC 8414)",
    responses=ok(schemas.ServerMetadata),
)
async def metadata() -> Response[bytes]:
    base = tokens.issuer()
    return _ok(
        schemas.ServerMetadata(
            issuer=base,
            token_endpoint=f"{base}/oauth/token",
            jwks_uri=f"{base}/.well-known/jwks.json",
            grant_types_supported=list(server.GRANT_TYPES),
            token_endpoint_auth_methods_supported=list(server.AUTH_METHODS),
            scopes_supported=sorted(SCOPES),
            response_types_supported=[],
        )
    )


def _tenant(caller: Principal, scope: str) -> int:
    if caller.tenant_id is None or caller.client_id is not None:
        raise InsufficientPermissions("managing clients needs one of the tenant's API keys")
    if not caller.can(scope):
        raise InsufficientPermissions(f"managing clients needs a key with the {scope} scope")
    return caller.tenant_id


def _out(c: clients.ClientInfo) -> schemas.ClientOut:
    return schemas.ClientOut(
        client_id=c.client_id,
        name=c.name,
        scopes=c.scopes.split(","),
        allowed_ips=[n for n in c.allowed_ips.split(",") if n],
        created_at=c.created_at,
        revoked_at=c.revoked_at,
    )


@get("/api/clients", tags=["OAuth2"], summary="The tenant's machine clients")
async def list_clients(caller: NamedDependency[Principal]) -> schemas.ClientList:
    infos = await clients.list_clients(_tenant(caller, "read"))
    return schemas.ClientList(clients=[_out(c) for c in infos])


@post("/api/clients", tags=["OAuth2"], summary="Create a machine client; the secret is shown once")
async def create_client(
    caller: NamedDependency[Principal], data: JSONBody[schemas.ClientCreate]
) -> schemas.ClientCreated:
    _tenant(caller, "write")
    assert caller.tenant_prefix is not None
    secret, info = await clients.create_client(
        caller.tenant_prefix,
        name=data.name,
        scopes=",".join(data.scopes),
        allowed_ips=data.allowed_ips,
        actor=caller.actor,
    )
    return schemas.ClientCreated(info.client_id, secret, _out(info))


@delete(
    "/api/clients/{client_id:str}",
    tags=["OAuth2"],
    summary="Revoke a machine client: its tokens stop working",
    status_code=204,
)
async def revoke_client(
    caller: NamedDependency[Principal], client_id: Annotated[str, PathParameter(max_length=64)]
) -> None:
    await clients.revoke_client(_tenant(caller, "write"), client_id, actor=caller.actor)


ROUTES = [token, jwks, metadata, list_clients, create_client, revoke_client]
