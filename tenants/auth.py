"""Who is calling over HTTP: API keys (Bearer or X-API-Key), OAuth2 access tokens of a
tenant's machine clients (Bearer, tenants/clients), devices' own signed tokens (Bearer,
tenants/devices), Handle-style HTTP Basic, and SNMS tokens; handed to handlers as
Litestar dependencies, never called by hand.

``DEPENDENCIES`` is registered once on the app (portal/app.py). A handler declares
``principal: NamedDependency[Principal | None]`` (None for an anonymous caller; the
service decides whether that is enough) or ``caller: NamedDependency[Principal]``
(credentials required: an API key, Basic, or an SNMS token from ``/identity/token``).
This module sits above the contexts (it reads accounts' API keys, identifiers' HS_SECKEY
values and SNMS tokens); no context imports it.

HTTP Basic follows the Handle.net REST API: the user is ``{index}:{prefix}/{user}``
(``300:88.100.7/admin``), which some clients percent-encode. The password is either an
API key of that tenant, or the secret in the ``HS_SECKEY`` value at that index of that
handle, as on a Handle.net server.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Coroutine, Mapping
from typing import Any
from urllib.parse import unquote

from litestar import Request
from litestar.di import Provide

from core import ratelimit
from core.auth import Principal
from core.errors import AuthenticationFailed, AuthenticationNeeded, RateLimited
from core.identifiers import parse_handle
from tenants.accounts.services.apikeys import authenticate_key
from tenants.accounts.services.tenants import find_by_prefix
from tenants.clients.services.tokens import authenticate_token, is_access_token
from tenants.devices.service import (
    authenticate_device_token,
    credential_values,
    device_principal,
    is_device,
    is_device_token,
)
from tenants.identifiers.services import snms


class WrongSecret(AuthenticationFailed):
    """A wrong guessable secret (an HS_SECKEY password): what the failure throttle counts.
    API keys, access tokens and SNMS tokens carry 256 bits or a signature; a wrong one is
    refused without being counted, so a client with a stale key is not locked out."""


async def authenticate(
    authorization: str | None, api_key: str | None, address: str | None = None
) -> Principal | None:
    """The caller's principal, None when no credentials were sent, or AuthenticationFailed.
    ``address`` is the caller's IP address (a machine client may be held to a list)."""
    if api_key:
        return await authenticate_key(api_key.strip())
    if not authorization:
        return None
    scheme, _, credentials = authorization.strip().partition(" ")
    scheme = scheme.lower()
    credentials = credentials.strip()
    if scheme == "bearer" and credentials:
        if is_access_token(credentials):
            return await authenticate_token(credentials, address)
        if is_device_token(credentials):
            return await authenticate_device_token(credentials)
        return await authenticate_key(credentials)
    if scheme == "basic" and credentials:
        return await _authenticate_basic(credentials)
    raise AuthenticationFailed(
        "unsupported Authorization header; use 'Bearer <API key or access token>' "
        "or Basic 300:{prefix}/{user}"
    )


async def authenticate_headers(
    headers: Mapping[str, str], address: str | None = None
) -> Principal | None:
    """``authenticate`` over a request's headers (any case-insensitive mapping)."""
    return await authenticate(headers.get("authorization"), headers.get("x-api-key"), address)


def _address(request: Request[Any, Any, Any]) -> str | None:
    return request.client.host if request.client else None


async def _authenticate_basic(credentials: str) -> Principal:
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise AuthenticationFailed("the Basic credentials are not valid base64") from None
    user, sep, password = decoded.partition(":")
    # "300:88.100.7/admin:secret" — the user itself holds a colon.
    if sep and user.isascii() and user.isdigit():
        handle_part, sep2, password = password.partition(":")
        user = f"{user}:{handle_part}" if sep2 else user
    user = unquote(user)
    index_text, sep, handle_text = user.partition(":")
    if not sep or not (index_text.isascii() and index_text.isdigit()):
        raise AuthenticationFailed("the Basic user must look like 300:88.100.7/admin")
    try:
        handle = parse_handle(handle_text)
    except Exception:
        raise AuthenticationFailed(f"{handle_text!r} is not a handle") from None
    tenant = await find_by_prefix(handle.prefix)
    if tenant is None or tenant.status == "closed":
        raise AuthenticationFailed(f"no tenant serves {handle.prefix}")
    if password.startswith("idn_"):
        principal = await authenticate_key(password)
        if principal.tenant_id != tenant.id:
            raise AuthenticationFailed("that API key belongs to another tenant")
        return principal
    values = await credential_values(tenant.id, handle.key)
    index = int(index_text)
    if values:
        for v in values:
            if (
                v.index == index
                and v.type == "HS_SECKEY"
                and v.data.format == "string"
                and hmac.compare_digest(str(v.data.value).encode(), password.encode())
            ):
                if await is_device(tenant.id, values):
                    return device_principal(tenant, index, handle.text)
                return Principal(
                    actor=f"handle:{index}:{handle.text}",
                    tenant_id=tenant.id,
                    tenant_prefix=tenant.prefix,
                    scopes=frozenset({"read", "write"}),
                )
    raise WrongSecret(f"wrong secret for {index}:{handle.text}")


async def _limited(
    request: Request[Any, Any, Any], found: Coroutine[Any, Any, Principal | None]
) -> Principal | None:
    """``found`` (a credential check) under the rate limits: a source that guessed a
    secret wrong too often lately is refused before its secret is looked at, and a known
    credential is counted per door (core/ratelimit.py)."""
    limits = ratelimit.get_limits()
    source = request.client.host if request.client else "?"
    door = ratelimit.door_of(request.url.path) or "rest"
    try:
        await limits.check_failures(door, source)
    except RateLimited:
        found.close()
        raise
    try:
        principal = await found
    except WrongSecret:
        await limits.failed(door, source)
        raise
    if principal is not None and limits.enabled:
        await limits.check_principal(door, ratelimit.principal_key(principal))
    return principal


async def provide_principal(request: Request[Any, Any, Any]) -> Principal | None:
    """The ``principal`` dependency: the caller by API key, OAuth2 access token or Basic,
    None if anonymous."""
    headers = request.headers
    if "authorization" not in headers and "x-api-key" not in headers:
        return None
    return await _limited(request, authenticate_headers(headers, _address(request)))


async def provide_caller(request: Request[Any, Any, Any]) -> Principal:
    """The ``caller`` dependency: an API key (Bearer or X-API-Key), HTTP Basic, or an SNMS
    token (Bearer or the ``token`` header some SNMS clients send). Required."""
    principal = await _limited(request, _caller(request))
    assert principal is not None
    return principal


async def _caller(request: Request[Any, Any, Any]) -> Principal:
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    token = token or request.headers.get("token", "").strip()
    if token and is_access_token(token):
        return await authenticate_token(token, _address(request))
    if token and is_device_token(token):
        return await authenticate_device_token(token)
    if token and not token.startswith("idn_"):
        return await snms.principal_from_token(token)
    principal = await authenticate(
        auth or None, request.headers.get("x-api-key"), _address(request)
    )
    if principal is None:
        raise AuthenticationNeeded(
            "this endpoint needs an API key or an SNMS token (POST /identity/token)"
        )
    return principal


DEPENDENCIES = {
    "principal": Provide(provide_principal),
    "caller": Provide(provide_caller),
}
