"""Device credentials for active carriers (主动标识).

A device (a chip or module that sends its own resolution requests) is an identifier whose
record declares, at index 1001, a template of carrier type 1 ("active carrier", the SNMS
template ``type``). Its credential is an HS_PUBKEY (or HS_SECKEY) value on that record.

Why the template decides: until now any credential value under a prefix logged in as the
tenant with read and write. A key burnt into thousands of chips must not be able to
rewrite the tenant's records, so a credential on a device record yields a *device*
principal instead: it names the device (``client_id`` ``device:{handle}``, which grants
can name), holds only the ``device`` scope (no read of the owner's restricted values, no
writes), and is counted by the rate limits as that device.

Two ways to prove it, both checked against the record read authoritatively (a rotated or
removed key counts at once, up to the token cache below):
* the wire protocol's challenge-response (resolver/wire/admin.py);
* over HTTP, a short-lived JWT the device signs itself (``typ: device+jwt``, ``kid``
  ``index:handle``, ``iss`` = ``sub`` = the handle, ``aud`` = this node's API audience,
  at most ``MAX_LIFETIME`` seconds between ``iat`` and ``exp``). RSA keys sign RS256 or
  PS256, P-256 keys ES256, Ed25519 keys EdDSA.
"""

from __future__ import annotations

import binascii
import time
from collections.abc import Iterable
from typing import Any, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey

from core.auth import DEVICE_SCOPE, Principal, device_subject
from core.bus import FLUSH_ALL, get_bus
from core.errors import AuthenticationFailed, NotFound
from core.handlekeys import load_any_public_key, value_bytes
from core.identifiers import parse_handle
from core.tenancy import tenant_transaction
from core.values import HandleValue, load_values
from tenants.accounts.services.tenants import find_by_prefix
from tenants.clients.services.tokens import audience, jwt_header
from tenants.identifiers.tables import Identifier
from tenants.templates.services.templates import TEMPLATE_INDEX, get_template


class TenantLike(Protocol):
    """The accounts' TenantInfo or the resolver cache's: an id and a prefix."""

    @property
    def id(self) -> int: ...

    @property
    def prefix(self) -> str: ...


ACTIVE_CARRIER = 1  # the SNMS template type of an active carrier
TOKEN_TYPE = "device+jwt"  # noqa: S105 - the JWT "typ" of a device's own token
MAX_LIFETIME = 300  # seconds from iat to exp
LEEWAY = 30  # clock skew allowed on iat and exp: chips keep poor time
MAX_TOKEN_LENGTH = 8192  # an RS256 signature over a 4096-bit key fits well within
_CACHE_MAX = 10_000


def device_principal(tenant: TenantLike, index: int, handle: str) -> Principal:
    return Principal(
        actor=f"device:{index}:{handle}",
        tenant_id=tenant.id,
        tenant_prefix=tenant.prefix,
        scopes=frozenset({DEVICE_SCOPE}),
        client_id=device_subject(parse_handle(handle).key),
    )


async def is_device(tenant_id: int, values: Iterable[HandleValue]) -> bool:
    """Whether a record is an active carrier: its template (index 1001) says type 1."""
    for v in values:
        if v.index == TEMPLATE_INDEX:
            try:
                template = await get_template(tenant_id, str(v.data.value))
            except NotFound:
                return False
            return template.carrier_type == ACTIVE_CARRIER
    return False


async def credential_values(tenant_id: int, key: str) -> list[HandleValue]:
    """The values of a record that holds a credential, read from the database (not the
    resolution cache: a rotated key counts at once); empty when there is no record."""
    async with tenant_transaction(tenant_id, write=False):
        row = await (
            Identifier.select(Identifier.values)
            .where((Identifier.tenant_id == tenant_id) & (Identifier.handle_key == key))
            .first()
            .run()
        )
    return load_values(row["values"]) if row else []


def is_device_token(token: str) -> bool:
    if not token.startswith("eyJ") or token.count(".") != 2 or len(token) > MAX_TOKEN_LENGTH:
        return False
    header = jwt_header(token)
    return header is not None and header.get("typ") == TOKEN_TYPE


def _jwk(fmt: str, value: str) -> tuple[Any, list[str]]:
    """The JOSE key in an HS_PUBKEY value and the algorithms it may sign with."""
    key = load_any_public_key(value_bytes(fmt, value))
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if isinstance(key, rsa.RSAPublicKey):
        return RSAKey.import_key(pem), ["RS256", "PS256"]
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1":
        return ECKey.import_key(pem), ["ES256"]
    if isinstance(key, ed25519.Ed25519PublicKey):
        return OKPKey.import_key(pem), ["EdDSA"]
    raise ValueError("a device signs with an RSA, P-256 or Ed25519 key")


# token -> (expiry, principal): tokens whose signature and record were checked; and the
# tokens of each device record, dropped when it changes (its key may have been rotated).
_verified: dict[str, tuple[float, Principal]] = {}
_by_record: dict[str, set[str]] = {}
_listening: list[int] = []


def _forget(message: str) -> None:
    if message == FLUSH_ALL or message.startswith("tenant:"):
        _verified.clear()
        _by_record.clear()
    elif message.startswith("rec:"):
        for token in _by_record.pop(message[4:], ()):
            _verified.pop(token, None)


def _listen() -> None:
    bus = get_bus()
    if id(bus) not in _listening:
        bus.subscribe(_forget)
        _listening.append(id(bus))


async def authenticate_device_token(token: str) -> Principal:
    """The device behind its own signed token, or AuthenticationFailed naming the reason."""
    _listen()
    hit = _verified.get(token)
    if hit is not None and hit[0] > time.time():
        return hit[1]
    header = jwt_header(token) or {}
    kid = header.get("kid")
    kid = kid if isinstance(kid, str) and len(kid) <= 512 else ""
    index_text, _, handle_text = kid.partition(":")
    if not (index_text.isascii() and index_text.isdigit() and handle_text):
        raise AuthenticationFailed("a device token's kid is index:handle, e.g. 300:88.100.7/D-1")
    try:
        handle = parse_handle(handle_text)
    except Exception:
        raise AuthenticationFailed(f"{handle_text[:64]!r} is not a handle") from None
    tenant = await find_by_prefix(handle.prefix)
    if tenant is None or tenant.status != "active":
        raise AuthenticationFailed(f"no active tenant holds {handle.prefix}")
    values = await credential_values(tenant.id, handle.key)
    if not await is_device(tenant.id, values):
        raise AuthenticationFailed(f"{handle.text} is not an active-carrier device")
    index = int(index_text)
    key_value = next((v for v in values if v.index == index and v.type == "HS_PUBKEY"), None)
    if key_value is None:
        raise AuthenticationFailed(f"no HS_PUBKEY at {index}:{handle.text}")
    try:
        key, algorithms = _jwk(key_value.data.format, str(key_value.data.value))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise AuthenticationFailed(f"the HS_PUBKEY at {index}:{handle.text}: {exc}") from None
    claims = _claims(token, key, algorithms, handle.text)
    principal = device_principal(tenant, index, handle.text)
    if len(_verified) >= _CACHE_MAX:
        _verified.clear()
        _by_record.clear()
    _verified[token] = (float(claims["exp"]), principal)
    _by_record.setdefault(handle.key, set()).add(token)
    return principal


def _claims(token: str, key: Any, algorithms: list[str], handle: str) -> dict[str, Any]:
    try:
        claims = jwt.decode(token, key, algorithms=algorithms).claims
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": handle},
            sub={"essential": True, "value": handle},
            aud={"essential": True, "value": audience()},
            exp={"essential": True},
            iat={"essential": True},
            leeway=LEEWAY,
        ).validate(claims)
    except (JoseError, ValueError, TypeError) as exc:
        raise AuthenticationFailed(
            f"the device token is invalid or expired ({type(exc).__name__}); sign a new one"
        ) from None
    exp, iat = claims["exp"], claims["iat"]
    if not isinstance(exp, int) or not isinstance(iat, int) or exp - iat > MAX_LIFETIME:
        raise AuthenticationFailed(f"a device token lives at most {MAX_LIFETIME} s (exp - iat)")
    if iat > time.time() + LEEWAY:
        raise AuthenticationFailed("the device token was issued in the future")
    return claims
