"""Request and response bodies of the machine-client API (msgspec)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
Cidr = Annotated[str, msgspec.Meta(max_length=64)]


class ClientCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    scopes: Annotated[list[str], msgspec.Meta(min_length=1, max_length=2)] = msgspec.field(
        default_factory=lambda: ["read"]
    )
    allowed_ips: Annotated[list[Cidr], msgspec.Meta(max_length=32)] = msgspec.field(
        default_factory=list
    )


class ClientOut(msgspec.Struct):
    client_id: str
    name: str
    scopes: list[str]
    allowed_ips: list[str]
    created_at: datetime
    revoked_at: datetime | None


class ClientCreated(msgspec.Struct):
    client_id: str
    client_secret: str
    client: ClientOut


class ClientList(msgspec.Struct):
    clients: list[ClientOut]


class TokenResponse(msgspec.Struct):
    access_token: str
    token_type: str
    expires_in: int
    scope: str


class OAuthError(msgspec.Struct):
    error: str
    error_description: str = ""


class Jwk(msgspec.Struct):
    """A public signing key (RFC 7517, an EC P-256 key for ES256)."""

    kty: str
    crv: str
    x: str
    y: str
    kid: str
    use: str
    alg: str


class JwkSet(msgspec.Struct):
    keys: list[Jwk]


class ServerMetadata(msgspec.Struct):
    """Authorization server metadata (RFC 8414): what a client library needs to start."""

    issuer: str
    token_endpoint: str
    jwks_uri: str
    grant_types_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    scopes_supported: list[str]
    response_types_supported: list[str]
