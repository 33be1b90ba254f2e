"""Staff single sign-on through OpenID Connect, against a mock provider.

The fake provider signs real RS256 ID tokens with keys generated here, serves them on its
``jwks_uri`` and echoes the nonce the app put in the authorization URL, so each bad-path
test changes one thing about an otherwise good sign-in.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from portal_support import Web, make_staff, unique_email

pytestmark = pytest.mark.anyio
ISSUER = "https://idp.example"
CLIENT_ID = "idnest"
SECRET = "s3cret-for-the-mock-provider-0123456789"
DROP = object()  # a claim override that removes the claim


@pytest.fixture(scope="module")
def keys() -> dict[str, RSAKey]:
    """RSA keys for the module: the provider's, a rotated one, an attacker's."""
    return {
        name: RSAKey.generate_key(2048, parameters={"kid": kid}, private=True)
        for name, kid in (("idp", "k1"), ("rotated", "k2"), ("rogue", "k1"), ("rogue2", "k9"))
    }


@dataclass
class Idp:
    """The fake provider's state; tests change one field to spoil a sign-in."""

    signer: RSAKey
    published: list[RSAKey]
    email: str = ""
    issuer: str = ISSUER  # what the discovery document says
    algs: list[str] | None = None  # id_token_signing_alg_values_supported
    claims: dict[str, Any] = field(default_factory=dict)  # overrides; DROP removes
    forge: Callable[[Idp], str] | None = None  # builds the id_token instead of signed()
    omit_id_token: bool = False
    userinfo: dict[str, Any] = field(default_factory=dict)  # overrides of sub/email/...
    nonce: str = ""
    jwks_fetches: int = 0
    token_request: dict[str, list[str]] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": "u-42",
            "aud": CLIENT_ID,
            "exp": now + 300,
            "iat": now,
            "nonce": self.nonce,
            "email": self.email,
            "email_verified": True,
        }
        claims.update({k: v(now) if callable(v) else v for k, v in self.claims.items()})
        return {k: v for k, v in claims.items() if v is not DROP}

    def signed(self) -> str:
        return jwt.encode({"alg": "RS256", "kid": self.signer.kid}, self.payload(), self.signer)


@pytest.fixture
def provider(settings: Any, keys: dict[str, RSAKey]) -> Iterator[Idp]:
    from portal.web import sso

    idp = Idp(signer=keys["idp"], published=[keys["idp"]])

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/.well-known/openid-configuration":
            meta: dict[str, Any] = {
                "issuer": idp.issuer,
                "authorization_endpoint": f"{ISSUER}/authorize",
                "token_endpoint": f"{ISSUER}/token",
                "userinfo_endpoint": f"{ISSUER}/userinfo",
                "jwks_uri": f"{ISSUER}/jwks",
            }
            if idp.algs is not None:
                meta["id_token_signing_alg_values_supported"] = idp.algs
            return httpx.Response(200, json=meta)
        if path == "/jwks":
            idp.jwks_fetches += 1
            return httpx.Response(
                200, json={"keys": [k.as_dict(private=False, use="sig") for k in idp.published]}
            )
        if path == "/token":
            body = parse_qs(request.content.decode())
            idp.token_request = body
            if body.get("code") != ["good-code"]:
                return httpx.Response(400, json={"error": "invalid_grant"})
            token = {"access_token": "at", "token_type": "Bearer", "expires_in": 300}
            if not idp.omit_id_token:
                token["id_token"] = idp.forge(idp) if idp.forge else idp.signed()
            return httpx.Response(200, json=token)
        if path == "/userinfo":
            assert request.headers["authorization"] == "Bearer at"
            info = {"sub": "u-42", "email": idp.email, "email_verified": True}
            info.update(idp.userinfo)
            return httpx.Response(200, json={k: v for k, v in info.items() if v is not DROP})
        return httpx.Response(404)

    old = (settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret)
    settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret = (
        ISSUER,
        CLIENT_ID,
        SECRET,
    )
    sso.transport = httpx.MockTransport(handle)
    sso._jwks.clear()
    yield idp
    sso._jwks.clear()
    sso.transport = None
    settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret = old


async def _start(web: Web, idp: Idp) -> str:
    r = await web.get("/staff/sso")
    assert r.status_code == 303
    url = urlparse(r.headers["location"])
    q = parse_qs(url.query)
    assert url.netloc == "idp.example" and q["code_challenge_method"] == ["S256"]
    assert q["client_id"] == [CLIENT_ID] and "openid" in q["scope"][0]
    idp.nonce = q["nonce"][0]
    return q["state"][0]


async def _sign_in(web: Web, idp: Idp, code: str = "good-code") -> httpx.Response:
    state = await _start(web, idp)
    return await web.get(f"/staff/sso/callback?code={code}&state={state}")


async def _assert_refused(web: Web, r: httpx.Response) -> None:
    assert r.status_code == 403, r.text
    assert (await web.get("/staff")).status_code == 303


async def test_sso_signs_in_existing_staff(web: Web, provider: Idp) -> None:
    addr, _ = await make_staff("reviewer")
    provider.email = addr.upper()
    provider.userinfo = {"email": DROP}  # the ID token alone suffices
    assert "/staff/sso" in (await web.get("/login")).text
    r = await _sign_in(web, provider)
    assert r.status_code == 303 and r.headers["location"] == "/staff"
    assert "code_verifier" in provider.token_request
    assert (await web.get("/staff/applications")).status_code == 200
    # The JWKS is cached: a second sign-in does not fetch it again.
    assert (await _sign_in(web, provider)).status_code == 303
    assert provider.jwks_fetches == 1


async def test_sso_falls_back_to_userinfo_for_the_same_subject(web: Web, provider: Idp) -> None:
    addr, _ = await make_staff("reviewer")
    provider.claims = {"email": DROP, "email_verified": DROP}
    provider.userinfo = {"email": addr}
    r = await _sign_in(web, provider)
    assert r.status_code == 303 and r.headers["location"] == "/staff"


async def test_sso_issuer_spelling_comes_from_the_discovery_document(
    web: Web, provider: Idp
) -> None:
    addr, _ = await make_staff("reviewer")
    provider.email, provider.issuer = addr, f"{ISSUER}/"
    assert (await _sign_in(web, provider)).status_code == 303
    provider.claims = {"iss": ISSUER}  # the configured spelling, not the document's
    await _assert_refused(web, await _sign_in(web, provider))


Spoiler = Callable[[Idp, dict[str, RSAKey]], None]


def _unsigned(idp: Idp) -> str:
    def b64(part: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()

    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(idp.payload())}."


def _hs256(idp: Idp) -> str:
    # Signed with the client secret, as a provider (or an attacker knowing it) could.
    key = OctKey.import_key(SECRET)
    return jwt.encode({"alg": "HS256"}, idp.payload(), key, algorithms=["HS256"])


def _rogue(name: str) -> Spoiler:
    def spoil(idp: Idp, keys: dict[str, RSAKey]) -> None:
        idp.signer = keys[name]

    return spoil


def _claims(**over: Any) -> Spoiler:
    def spoil(idp: Idp, keys: dict[str, RSAKey]) -> None:
        idp.claims = dict(over)

    return spoil


def _set(**over: Any) -> Spoiler:
    def spoil(idp: Idp, keys: dict[str, RSAKey]) -> None:
        for k, v in over.items():
            setattr(idp, k, v)

    return spoil


def _userinfo(**over: Any) -> Spoiler:
    def spoil(idp: Idp, keys: dict[str, RSAKey]) -> None:
        idp.claims = {"email": DROP, "email_verified": DROP}
        idp.userinfo = dict(over)

    return spoil


# name -> (what goes wrong, the refusal reason the log must give)
SPOILERS: dict[str, tuple[Spoiler, str]] = {
    "signed-by-another-key-same-kid": (_rogue("rogue"), "BadSignatureError"),
    "signed-by-another-key-unknown-kid": (_rogue("rogue2"), "No key for kid: 'k9'"),
    "wrong-iss": (_claims(iss="https://evil.example"), "'iss'"),
    "wrong-aud": (_claims(aud="someone-else"), "'aud'"),
    "aud-list-without-us": (_claims(aud=["someone-else", "another"], azp=CLIENT_ID), "'aud'"),
    "several-aud-without-azp": (_claims(aud=[CLIENT_ID, "another"]), "Missing claim: 'azp'"),
    "azp-someone-else": (_claims(azp="someone-else"), "Invalid claim: 'azp'"),
    "expired": (
        _claims(exp=lambda now: now - 3600, iat=lambda now: now - 7200),
        "ExpiredTokenError",
    ),
    "issued-in-the-future": (
        _claims(iat=lambda now: now + 3600, exp=lambda now: now + 7200),
        "issued in the future",
    ),
    "wrong-nonce": (_claims(nonce="not-the-session-nonce"), "Invalid claim: 'nonce'"),
    "missing-nonce": (_claims(nonce=DROP), "Missing claim: 'nonce'"),
    "missing-sub": (_claims(sub=DROP), "Missing claim: 'sub'"),
    "alg-none": (_set(forge=_unsigned, algs=["RS256", "none"]), "'none' is not allowed"),
    "alg-hs256-with-client-secret": (
        _set(forge=_hs256, algs=["RS256", "HS256"]),
        "'HS256' is not allowed",
    ),
    "no-usable-signing-algorithm": (_set(algs=["none", "HS256"]), "no usable ID token signing"),
    "missing-id-token": (_set(omit_id_token=True), "no id_token"),
    "email-verified-false": (_claims(email_verified=False), "email_verified is not true"),
    "email-verified-absent": (_claims(email_verified=DROP), "email_verified is not true"),
    "email-verified-a-string": (_claims(email_verified="true"), "email_verified is not true"),
    "userinfo-sub-mismatch": (_userinfo(sub="u-43"), "userinfo sub is not the ID token's"),
    "userinfo-email-verified-absent": (
        _userinfo(email_verified=DROP),
        "email_verified is not true",
    ),
}


@pytest.mark.parametrize("spoil", list(SPOILERS), ids=list(SPOILERS))
async def test_sso_refuses_a_bad_id_token(
    web: Web, provider: Idp, keys: dict[str, RSAKey], spoil: str, caplog: Any
) -> None:
    addr, _ = await make_staff("reviewer")
    provider.email = addr
    spoiler, reason = SPOILERS[spoil]
    spoiler(provider, keys)
    with caplog.at_level(logging.INFO, logger="idnest.sso"):
        await _assert_refused(web, await _sign_in(web, provider))
    logged = [r.getMessage() for r in caplog.records if r.name == "idnest.sso"]
    assert any(reason in m for m in logged), logged
    assert not any("eyJ" in m for m in logged)  # no JWT (base64 of '{"') in the log


async def test_sso_accepts_clock_skew_within_the_leeway(web: Web, provider: Idp) -> None:
    provider.email, _ = await make_staff("reviewer")
    provider.claims = {"iat": lambda now: now + 30, "exp": lambda now: now - 30}
    assert (await _sign_in(web, provider)).status_code == 303


async def test_sso_refetches_the_jwks_once_for_a_rotated_key(
    web: Web, provider: Idp, keys: dict[str, RSAKey]
) -> None:
    addr, _ = await make_staff("reviewer")
    provider.email = addr
    assert (await _sign_in(web, provider)).status_code == 303
    assert provider.jwks_fetches == 1
    provider.signer, provider.published = keys["rotated"], [keys["rotated"]]
    r = await _sign_in(web, provider)
    assert r.status_code == 303 and r.headers["location"] == "/staff"
    assert provider.jwks_fetches == 2
    assert (await _sign_in(web, provider)).status_code == 303
    assert provider.jwks_fetches == 2
    # An unknown kid costs one refetch, then the sign-in is refused.
    provider.signer = keys["rogue2"]
    await _assert_refused(web, await _sign_in(web, provider))
    assert provider.jwks_fetches == 3


async def test_sso_refuses_bad_state_unknown_user_or_bad_code(web: Web, provider: Idp) -> None:
    await _start(web, provider)
    await _assert_refused(web, await web.get("/staff/sso/callback?code=good-code&state=forged"))
    provider.email = unique_email("stranger")
    await _assert_refused(web, await _sign_in(web, provider))
    provider.email, _ = await make_staff("admin")
    await _assert_refused(web, await _sign_in(web, provider, code="bad-code"))
    # A callback without a started sign-in (no state, verifier or nonce in the session).
    await _assert_refused(web, await web.get("/staff/sso/callback?code=good-code&state="))


async def test_sso_start_refuses_a_foreign_or_absent_provider(web: Web, provider: Idp) -> None:
    from portal.web import sso

    # The discovery document names another issuer (a mix-up, or a wrong URL).
    provider.issuer = "https://evil.example"
    assert (await web.get("/staff/sso")).status_code == 403
    sso.transport = httpx.MockTransport(lambda request: httpx.Response(503))
    assert (await web.get("/staff/sso")).status_code == 403


async def test_sso_off_when_not_configured(web: Web) -> None:
    assert (await web.get("/staff/sso")).status_code == 404
    assert (await web.get("/staff/sso/callback?code=x&state=y")).status_code == 404
