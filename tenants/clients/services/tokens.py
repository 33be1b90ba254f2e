"""Access tokens for machine clients: short-lived JWTs (RFC 9068 ``at+jwt``), ES256.

A token names its client (``sub``/``client_id``) and scopes; the tenant comes from the
client's current state, never from the token, and that state is checked on every use
(clients.client_state: revoked, allowed addresses, tenant closed). A verified token is
cached in process until it expires, so the signature is checked once per process, not
once per request (~0.1 ms each).
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from core.auth import Principal
from core.errors import AuthenticationFailed, InsufficientPermissions
from core.settings import get_settings
from tenants.clients.services import keys
from tenants.clients.services.clients import ClientState, client_state

TOKEN_TYPE = "at+jwt"  # noqa: S105 - the JWT "typ" of access tokens (RFC 9068)
MAX_TOKEN_LENGTH = 4096


def issuer() -> str:
    s = get_settings()
    return (s.public_base_url or f"http://127.0.0.1:{s.port}").rstrip("/")


def audience() -> str:
    return issuer() + "/api"


def issue(key: ECKey, state: ClientState, scopes: frozenset[str]) -> dict[str, Any]:
    """The token response body (RFC 6749 §5.1) for ``state``'s client."""
    ttl = get_settings().oauth_token_ttl
    now = int(time.time())
    scope = " ".join(sorted(scopes))
    claims = {
        "iss": issuer(),
        "aud": audience(),
        "sub": state.client_id,
        "client_id": state.client_id,
        "scope": scope,
        "tenant": state.tenant_prefix,
        "iat": now,
        "exp": now + ttl,
        "jti": secrets.token_hex(12),
    }
    header = {"alg": keys.ALG, "typ": TOKEN_TYPE, "kid": key.kid}
    return {
        "access_token": jwt.encode(header, claims, key),
        "token_type": "Bearer",
        "expires_in": ttl,
        "scope": scope,
    }


def jwt_header(token: str) -> dict[str, Any] | None:
    """A JWT's header, decoded without any check (to choose how to check it)."""
    head = token.split(".", 1)[0]
    try:
        value = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (binascii.Error, ValueError):
        return None
    return value if isinstance(value, dict) else None


# token -> (expiry, client id, scopes, kid), for tokens whose signature has been checked.
_verified: dict[str, tuple[float, str, frozenset[str], str]] = {}


def is_access_token(token: str) -> bool:
    """Whether a Bearer credential is one of our access tokens (not an API key, not an
    SNMS token): a JWT whose header says ``typ: at+jwt``."""
    if token in _verified:
        return True
    if not token.startswith("eyJ") or token.count(".") != 2 or len(token) > MAX_TOKEN_LENGTH:
        return False
    header = jwt_header(token)
    return header is not None and header.get("typ") == TOKEN_TYPE


async def _verify(token: str) -> tuple[float, str, frozenset[str], str]:
    hit = _verified.get(token)
    if hit is not None and hit[0] > time.time() and keys.is_published(hit[3]):
        return hit
    header = jwt_header(token) or {}
    kid = header.get("kid")
    if header.get("alg") != keys.ALG or not isinstance(kid, str) or len(kid) > 64:
        raise AuthenticationFailed("the access token is not signed ES256 with a key id")
    key = await keys.verification_key(kid)
    if key is None:
        raise AuthenticationFailed("the access token's signing key is not known here")
    try:
        claims = jwt.decode(token, key, algorithms=[keys.ALG]).claims
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": issuer()},
            aud={"essential": True, "value": audience()},
            exp={"essential": True},
            sub={"essential": True},
            leeway=0,
        ).validate(claims)
    except (JoseError, ValueError, TypeError):
        raise AuthenticationFailed(
            "the access token is invalid or expired; ask /oauth/token for a new one"
        ) from None
    scope = claims.get("scope")
    entry = (
        float(claims["exp"]),
        str(claims["sub"]),
        frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
        kid,
    )
    if len(_verified) > 10_000:
        _verified.clear()
    _verified[token] = entry
    return entry


async def authenticate_token(token: str, address: str | None) -> Principal:
    """The principal behind an access token sent from ``address``, or
    AuthenticationFailed (bad, expired, revoked) / InsufficientPermissions (address)."""
    _exp, client_id, scopes, _kid = await _verify(token)
    state = await client_state(client_id)
    if state is None or not state.active:
        raise AuthenticationFailed(f"the client {client_id} has been revoked")
    if not state.allows(address):
        raise InsufficientPermissions(
            f"the client {client_id} may not be used from {address or 'an unknown address'}"
        )
    return Principal(
        actor=f"client:{client_id}",
        tenant_id=state.tenant_id,
        tenant_prefix=state.tenant_prefix,
        scopes=scopes & state.scopes,
        client_id=client_id,
    )
