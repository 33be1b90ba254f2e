"""The token endpoint (RFC 6749 §4.4, client credentials) on Authlib's authorization
server, adapted to idnest: no web framework here, the API layer hands in the request's
method, URL, headers, form and source address and sends back what it gets.

Authlib's server is synchronous and asks for the client by id; idnest's storage is
asynchronous. So the client named by the request (HTTP Basic, or ``client_id`` in the
form) and the signing key are loaded first, and Authlib's ``query_client`` answers from
them. An unknown or revoked client is a decoy whose secret never matches, so it fails
exactly like a wrong secret (``invalid_client``, 401 with ``WWW-Authenticate``).

Wrong secrets count in the failed-credentials limiter the portal login uses
(core/throttle.py): past ``IDNEST_LOGIN_FAILURES_PER_MINUTE`` per client id (four times
that per source address) the endpoint answers 429 with ``Retry-After`` until the window
has moved on.
"""

from __future__ import annotations

import base64
import binascii
import math
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientCredentialsGrant,
    ClientMixin,
    InvalidScopeError,
    OAuth2Error,
    OAuth2Request,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6749.util import extract_basic_authorization, scope_to_list
from joserfc.jwk import ECKey
from limits import RateLimitItemPerMinute

from core import audit
from core.auth import SCOPES
from core.settings import get_settings
from core.throttle import limiter
from tenants.clients.services import keys, tokens
from tenants.clients.services.clients import ClientState, client_state, secret_matches

AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
GRANT_TYPES = ["client_credentials"]
MAX_FIELD = 512
Response = tuple[int, dict[str, Any], list[tuple[str, str]]]


class Client(ClientMixin):
    def __init__(self, client_id: str, state: ClientState | None) -> None:
        self.client_id = client_id
        self.state = state

    def get_client_id(self) -> str:
        return self.client_id

    def check_client_secret(self, client_secret: str) -> bool:
        state = self.state
        # A decoy (unknown or revoked) still hashes, so it answers in the same time.
        ok = secret_matches(client_secret, state.secret_hash if state else "0" * 64)
        return bool(ok and state is not None and state.active)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in AUTH_METHODS

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in GRANT_TYPES


@dataclass
class _Loaded:
    client: Client | None
    key: ECKey
    address: str | None


_loaded: ContextVar[_Loaded | None] = ContextVar("idnest_oauth_loaded", default=None)


class _Grant(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def validate_token_request(self) -> None:
        client = self.authenticate_token_endpoint_client()
        loaded = _loaded.get()
        assert loaded is not None and client.state is not None
        if not client.state.allows(loaded.address):
            raise UnauthorizedClientError(
                f"requests from {loaded.address} are not allowed for this client"
            )
        self.request.client = client
        requested = set(scope_to_list(self.request.payload.scope) or [])
        if requested - client.state.scopes:
            raise InvalidScopeError(
                f"this client may ask for {' '.join(sorted(client.state.scopes))} only"
            )


class _Server(AuthorizationServer):
    def query_client(self, client_id: str) -> Client | None:
        loaded = _loaded.get()
        if loaded is None or loaded.client is None or loaded.client.client_id != client_id:
            return Client(client_id, None)
        return loaded.client

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """JWTs are not stored: a token is checked by its signature and its client."""

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signals in idnest."""

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> Response:
        return status, dict(body), list(headers)


def _generate(
    grant_type: str,
    client: Client,
    user: Any = None,
    scope: str | None = None,
    expires_in: int | None = None,
    include_refresh_token: bool = False,
) -> dict[str, Any]:
    loaded = _loaded.get()
    assert loaded is not None and client.state is not None
    scopes = frozenset(scope_to_list(scope) or []) or client.state.scopes
    return tokens.issue(loaded.key, client.state, scopes)


class _Headers(dict[str, str]):
    """Header names compared without case (Authlib asks for ``Authorization``)."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        super().__init__((k.lower(), v) for k, v in headers.items())

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())


class _Request(OAuth2Request):
    def __init__(self, method: str, uri: str, headers: Mapping[str, str], form: dict[str, str]):
        super().__init__(method, uri, headers=headers)
        self.payload = BasicOAuth2Payload(form)
        self._form = form

    @property
    def args(self) -> dict[str, str]:
        return {}

    @property
    def form(self) -> dict[str, str]:
        return self._form


_server = _Server(scopes_supported=sorted(SCOPES))
_server.register_grant(_Grant)
_server.register_token_generator("default", _generate)


def _claimed_client_id(headers: Mapping[str, str], form: dict[str, str]) -> str:
    basic_id, _ = extract_basic_authorization(headers)
    return str(basic_id or form.get("client_id") or "")[:MAX_FIELD]


def _items() -> tuple[RateLimitItemPerMinute, RateLimitItemPerMinute]:
    n = get_settings().login_failures_per_minute
    return RateLimitItemPerMinute(n), RateLimitItemPerMinute(n * 4)


async def _retry_after(client_id: str, address: str) -> int | None:
    """Seconds until the failed-secret windows let this request through; None if now."""
    per_client, per_address = _items()
    lim = limiter()
    waits = []
    for item, key, value in ((per_client, "oauth-client", client_id),
                             (per_address, "oauth-ip", address)):  # fmt: skip
        if not await lim.test(item, key, value):
            stats = await lim.get_window_stats(item, key, value)
            waits.append(max(1, math.ceil(stats.reset_time - time.time())))
    return max(waits) if waits else None


async def _failed(client_id: str, address: str) -> None:
    per_client, per_address = _items()
    lim = limiter()
    await lim.hit(per_client, "oauth-client", client_id)
    await lim.hit(per_address, "oauth-ip", address)


def _error(status: int, error: str, description: str, header: tuple[str, str]) -> Response:
    body = {"error": error, "error_description": description}
    return status, body, [("Cache-Control", "no-store"), header]


def _unreadable_basic(headers: Mapping[str, str]) -> bool:
    """Basic credentials that are not base64 of UTF-8 (Authlib would raise on them)."""
    scheme, _, credentials = headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return True
    return False


async def token_response(
    method: str, uri: str, headers: Mapping[str, str], form: dict[str, str], address: str | None
) -> Response:
    """(status, JSON body, headers) for one request to the token endpoint."""
    form = {k[:MAX_FIELD]: v[:MAX_FIELD] for k, v in list(form.items())[:32]}
    headers = _Headers(headers)
    if _unreadable_basic(headers):
        challenge = ("WWW-Authenticate", 'Basic error="invalid_client"')
        return _error(401, "invalid_client", "the Basic credentials are not base64", challenge)
    client_id = _claimed_client_id(headers, form)
    basic_id, _ = extract_basic_authorization(headers)
    if basic_id and ("client_secret" in form or form.get("client_id", basic_id) != basic_id):
        # RFC 6749 §2.3: one authentication method per request.
        return _error(400, "invalid_request", "authenticate by Basic or by form, not both",
                      ("Pragma", "no-cache"))  # fmt: skip
    source = address or "?"
    wait = await _retry_after(client_id, source) if client_id else None
    if wait is not None:
        return _error(
            429,
            "invalid_client",
            f"too many failed attempts; try again in {wait} s",
            ("Retry-After", str(wait)),
        )
    state = await client_state(client_id) if client_id else None
    token = _loaded.set(_Loaded(Client(client_id, state), await keys.signing_key(), address))
    try:
        try:
            request = _Request(method, uri, headers, form)
        except OAuth2Error as exc:
            status, body, extra = _server.handle_error_response(None, exc)
            return status, body, extra
        response: Response = _server.create_token_response(request)
    finally:
        _loaded.reset(token)
    if response[1].get("error") == "invalid_client":
        await _failed(client_id or "-", source)
        if state is not None:
            # The owner's audit shows guesses at its client's secret (at most
            # IDNEST_LOGIN_FAILURES_PER_MINUTE a minute: the limiter stops the rest).
            await audit.record(
                actor=f"client:{client_id}",
                action="client.auth_failed",
                target=client_id,
                tenant_id=state.tenant_id,
                detail={"address": source},
            )
    return response
