"""Single sign-on for staff through an OpenID Connect provider (Authlib's client).

Off unless ``IDNEST_OIDC_ISSUER`` is set. Authorization-code flow with PKCE; the state,
the PKCE verifier and the OIDC nonce are kept in the server-side session. The signed-in
email must belong to an existing, active staff user (SSO never creates accounts or
grants roles). The provider's own login stands in for TOTP.

Who signed in is what the ID token says, never what the userinfo endpoint says alone.
The token response must carry an ``id_token``; it is verified with joserfc (the JOSE
library Authlib itself uses) and Authlib's ``CodeIDToken``:

- signature by a key of the provider's JWKS (``jwks_uri``), with an asymmetric
  algorithm the discovery document lists (RS256 when it lists none; ``none`` and HMAC
  never);
- ``iss`` exactly the discovery document's ``issuer``, which must itself be the
  configured issuer (up to a trailing slash, which the document decides);
- ``aud`` containing our client id, ``azp`` our client id when present or when there
  are other audiences, ``exp``/``iat`` within a minute's leeway, ``nonce`` the one
  this browser's session sent.

The email and ``email_verified`` (which must be ``true``) come from the ID token; only
when it has no email are both taken from userinfo, and then only if userinfo's ``sub``
is the ID token's. The JWKS is cached in process for ten minutes and fetched again
once when a token names a key id it does not hold (key rotation).

Every failure answers the same 403 page and clears the session; the reason is logged
(never a token).
"""

from __future__ import annotations

import logging
import secrets
import time
import warnings
from collections.abc import Mapping
from typing import Any

import httpx
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.response import Redirect

from core.settings import get_settings
from portal.web.common import bind_cookie, page, session, start_session
from tenants.accounts.tables import User
from tenants.onboarding.services import applications

# Authlib 1.9.10 warns on import that it would rather drive httpx2, a fork we do not
# use; httpx is its supported fallback. Silenced here so every process start is quiet.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "The httpx module is deprecated")
    from authlib.integrations.httpx_client import AsyncOAuth2Client

log = logging.getLogger("idnest.sso")

# Tests swap in an httpx.MockTransport; None means the network.
transport: httpx.AsyncBaseTransport | None = None

JWKS_TTL = 600.0
LEEWAY = 60
# Signature algorithms we accept from a provider's list; "none" and the HMAC family are
# never among them (an HMAC "key" would be the public key or the client secret).
ASYMMETRIC_ALGS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)

# jwks_uri -> (fetched at, monotonic seconds; the key set)
_jwks: dict[str, tuple[float, KeySet]] = {}


class SignOnRefused(Exception):
    """The provider's answer does not identify anyone; the message is logged, not shown."""


async def _discover() -> dict[str, Any]:
    issuer = get_settings().oidc_issuer
    async with httpx.AsyncClient(transport=transport, timeout=10) as c:
        r = await c.get(f"{issuer.rstrip('/')}/.well-known/openid-configuration")
        r.raise_for_status()
        meta = r.json()
    if not isinstance(meta, dict):
        raise SignOnRefused("discovery document is not a JSON object")
    # OIDC Discovery 4.3: the document's issuer is the one we asked for; its own spelling
    # (trailing slash or not) is the one ID tokens must carry.
    named = meta.get("issuer")
    if not isinstance(named, str) or named.rstrip("/") != issuer.rstrip("/"):
        raise SignOnRefused(f"discovery issuer {named!r} is not {issuer!r}")
    return meta


def _client() -> AsyncOAuth2Client:
    s = get_settings()
    kwargs: dict[str, Any] = {"timeout": 10}
    if transport is not None:
        kwargs["transport"] = transport
    return AsyncOAuth2Client(
        client_id=s.oidc_client_id,
        client_secret=s.oidc_client_secret,
        scope="openid email profile",
        redirect_uri=f"{applications.base_url()}/staff/sso/callback",
        code_challenge_method="S256",
        **kwargs,
    )


async def _key_set(uri: str, *, refresh: bool = False) -> KeySet:
    now = time.monotonic()
    cached = _jwks.get(uri)
    if cached is not None and not refresh and now - cached[0] < JWKS_TTL:
        return cached[1]
    async with httpx.AsyncClient(transport=transport, timeout=10) as c:
        r = await c.get(uri)
        r.raise_for_status()
        data = r.json()
    keys = [k for k in data["keys"] if isinstance(k, dict) and k.get("use", "sig") == "sig"]
    key_set = KeySet.import_key_set({"keys": keys})
    _jwks[uri] = (now, key_set)
    return key_set


async def _verified_claims(
    id_token: str, meta: Mapping[str, Any], *, nonce: str, access_token: str
) -> CodeIDToken:
    listed = meta.get("id_token_signing_alg_values_supported") or ["RS256"]
    algs = [a for a in listed if a in ASYMMETRIC_ALGS]
    if not algs:
        raise SignOnRefused(f"no usable ID token signing algorithm in {listed!r}")
    registry = JWSRegistry(algorithms=algs, strict_check_header=False)
    uri = str(meta["jwks_uri"])
    try:
        token = jwt.decode(id_token, await _key_set(uri), registry=registry)
    except InvalidKeyIdError:
        token = jwt.decode(id_token, await _key_set(uri, refresh=True), registry=registry)
    client_id = get_settings().oidc_client_id
    claims = CodeIDToken(
        token.claims,
        token.header,
        {
            "iss": {"essential": True, "value": meta["issuer"]},
            "aud": {"essential": True, "value": client_id},
            "sub": {"essential": True},
            "nonce": {"essential": True, "value": nonce},
        },
        {"nonce": nonce, "client_id": client_id, "access_token": access_token},
    )
    claims.validate(leeway=LEEWAY)
    return claims


async def _signed_in_email(request: Request[Any, Any, Any]) -> str:
    """The verified email the provider vouches for, or SignOnRefused."""
    sess = session(request)
    state = request.query_params.get("state", "")
    code = request.query_params.get("code", "")
    expected = str(sess.get("sso_state") or "")
    verifier, nonce = sess.get("sso_verifier"), sess.get("sso_nonce")
    if not expected or not code or not secrets.compare_digest(state, expected):
        raise SignOnRefused("missing code or state does not match the session")
    if not isinstance(verifier, str) or not isinstance(nonce, str) or not nonce:
        raise SignOnRefused("session holds no PKCE verifier or nonce")
    meta = await _discover()
    async with _client() as client:
        token = await client.fetch_token(meta["token_endpoint"], code=code, code_verifier=verifier)
        id_token = token.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise SignOnRefused("token response has no id_token")
        claims = await _verified_claims(
            id_token, meta, nonce=nonce, access_token=str(token.get("access_token") or "")
        )
        source: Mapping[str, Any] = claims
        if not claims.get("email"):
            r = await client.get(meta["userinfo_endpoint"])
            r.raise_for_status()
            info = r.json()
            if not isinstance(info, dict) or info.get("sub") != claims["sub"]:
                raise SignOnRefused("userinfo sub is not the ID token's sub")
            source = info
    email = source.get("email")
    if not isinstance(email, str) or not email.strip():
        raise SignOnRefused("no email in the ID token or userinfo")
    if source.get("email_verified") is not True:
        raise SignOnRefused("email_verified is not true")
    return email.strip().lower()


@get("/staff/sso", include_in_schema=False)
async def sso_start(request: Request[Any, Any, Any]) -> Response[Any]:
    if not get_settings().oidc_issuer:
        raise NotFoundException()
    state, nonce, verifier = (secrets.token_urlsafe(24) for _ in range(3))
    try:
        meta = await _discover()
        async with _client() as client:
            url, _state = client.create_authorization_url(
                meta["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier
            )
    except Exception as exc:
        log.warning("staff SSO could not start: %s", _why(exc))
        return await _refused(request)
    request.set_session({"sso_state": state, "sso_verifier": verifier, "sso_nonce": nonce})
    return Redirect(path=url, status_code=303)


@get("/staff/sso/callback", include_in_schema=False)
async def sso_callback(request: Request[Any, Any, Any]) -> Response[Any]:
    if not get_settings().oidc_issuer:
        raise NotFoundException()
    try:
        email = await _signed_in_email(request)
    except Exception as exc:
        log.warning("staff SSO refused: %s", _why(exc))
        return await _refused(request)
    user = await User.select().where(User.email == email).first().run()
    if user is None or not user["is_staff"] or not user["is_active"]:
        log.info("staff SSO refused: %s is not an active staff user", email)
        return await _refused(request)
    await start_session(request, {"uid": user["id"], "totp_ok": True, "sso": True})
    return bind_cookie(request, Redirect(path="/staff", status_code=303))


def _why(exc: Exception) -> str:
    # Exception texts here name claims, key ids, URLs and status codes, never a token.
    return f"{type(exc).__name__}: {exc}"[:300]


async def _refused(request: Request[Any, Any, Any]) -> Response[str]:
    request.clear_session()
    return await page(
        request,
        "message.html",
        status=403,
        title="Single sign-on",
        message="Single sign-on did not identify a staff user of this node.",
    )


ROUTES = [sso_start, sso_callback]
