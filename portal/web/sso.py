"""Single sign-on for staff through an OpenID Connect provider (Authlib's client).

Off unless ``IDNEST_OIDC_ISSUER`` is set. Authorization-code flow with PKCE and a state
kept in the server-side session; the signed-in email must belong to an existing,
active staff user (SSO never creates accounts or grants roles). The provider's own
login stands in for TOTP. The email is read from the userinfo endpoint with the
access token just obtained from the token endpoint over TLS.
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client
from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.response import Redirect

from core.settings import get_settings
from portal.web.common import bind_cookie, page, session, start_session
from tenants.onboarding import service
from tenants.tables import User

# Tests swap in an httpx.MockTransport; None means the network.
transport: httpx.AsyncBaseTransport | None = None


async def _discover() -> dict[str, Any]:
    issuer = get_settings().oidc_issuer.rstrip("/")
    async with httpx.AsyncClient(transport=transport, timeout=10) as c:
        r = await c.get(f"{issuer}/.well-known/openid-configuration")
        r.raise_for_status()
        return dict(r.json())


def _client() -> AsyncOAuth2Client:
    s = get_settings()
    kwargs: dict[str, Any] = {"timeout": 10}
    if transport is not None:
        kwargs["transport"] = transport
    return AsyncOAuth2Client(
        client_id=s.oidc_client_id,
        client_secret=s.oidc_client_secret,
        scope="openid email profile",
        redirect_uri=f"{service.base_url()}/staff/sso/callback",
        code_challenge_method="S256",
        **kwargs,
    )


@get("/staff/sso", include_in_schema=False)
async def sso_start(request: Request[Any, Any, Any]) -> Response[Any]:
    if not get_settings().oidc_issuer:
        raise NotFoundException()
    meta = await _discover()
    state, nonce, verifier = (secrets.token_urlsafe(24) for _ in range(3))
    async with _client() as client:
        url, _state = client.create_authorization_url(
            meta["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier
        )
    request.set_session({"sso_state": state, "sso_verifier": verifier})
    return Redirect(path=url, status_code=303)


@get("/staff/sso/callback", include_in_schema=False)
async def sso_callback(request: Request[Any, Any, Any]) -> Response[Any]:
    if not get_settings().oidc_issuer:
        raise NotFoundException()
    sess = session(request)
    state = request.query_params.get("state", "")
    code = request.query_params.get("code", "")
    if not code or not state or not secrets.compare_digest(state, str(sess.get("sso_state", ""))):
        return await _refused(request)
    meta = await _discover()
    try:
        async with _client() as client:
            await client.fetch_token(
                meta["token_endpoint"], code=code, code_verifier=str(sess.get("sso_verifier"))
            )
            info = (await client.get(meta["userinfo_endpoint"])).json()
    except Exception:
        return await _refused(request)
    email = str(info.get("email") or "").strip().lower()
    if not email or info.get("email_verified") is False:
        return await _refused(request)
    user = await User.select().where(User.email == email).first().run()
    if user is None or not user["is_staff"] or not user["is_active"]:
        return await _refused(request)
    await start_session(request, {"uid": user["id"], "totp_ok": True, "sso": True})
    return bind_cookie(request, Redirect(path="/staff", status_code=303))


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
