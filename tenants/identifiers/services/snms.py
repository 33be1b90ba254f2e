"""SNMS accounts and tokens: the login that Chinese enterprise integrations already call.

A tenant's SNMS account (``idnest snms-user create``) logs in at ``/identity/token`` with
its password, or at ``/identity/token/v1`` with ``sha256(sha256(pwd) + "yyyy-MM-dd")``,
and gets a signed JWT valid for 24 h. The v1 form needs ``sha256(pwd)`` on the server,
so that digest is kept encrypted with the node key (AES-GCM), never in clear; the
password itself is only stored as an argon2 hash.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import re
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from core import audit, db
from core.auth import Principal, hash_password, verify_password
from core.errors import AuthenticationFailed, Conflict, InvalidValue
from core.settings import get_settings
from core.tenancy import cross_tenant, tenant_transaction
from tenants.accounts.services.tenants import get_by_prefix
from tenants.accounts.tables import Tenant
from tenants.identifiers.tables import SnmsAccount

TOKEN_TTL = 24 * 3600
ROLES = ("admin", "developer", "viewer")
_USERNAME = re.compile(r"^[A-Za-z0-9_.@\-]{3,128}$")
_CHINA = timezone(timedelta(hours=8))


def _node_key() -> bytes:
    return hashlib.sha256(("snms:" + get_settings().resolved_secret_key()).encode()).digest()


def _seal(text: str) -> str:
    nonce = os.urandom(12)
    return base64.b64encode(
        nonce + AESGCM(_node_key()).encrypt(nonce, text.encode(), None)
    ).decode()


def _unseal(sealed: str) -> str:
    raw = base64.b64decode(sealed)
    return AESGCM(_node_key()).decrypt(raw[:12], raw[12:], None).decode()


def _jwk() -> OctKey:
    return OctKey.import_key(
        hashlib.sha256(("jwt:" + get_settings().resolved_secret_key()).encode()).digest()
    )


async def create_account(
    tenant_prefix: str, username: str, password: str, *, role: str = "developer", actor: str = "cli"
) -> int:
    if not _USERNAME.match(username):
        raise InvalidValue("username: 3-128 letters, digits or _.@-", field="username")
    if len(password) < 10:
        raise InvalidValue("the password must have at least 10 characters", field="password")
    if role not in ROLES:
        raise InvalidValue(f"role must be one of {', '.join(ROLES)}", field="role")
    tenant = await get_by_prefix(tenant_prefix)
    digest = hashlib.sha256(password.encode()).hexdigest()
    # Usernames are unique across the node (clients log in by username alone).
    async with cross_tenant("auth"):
        taken = await SnmsAccount.exists().where(SnmsAccount.username == username).run()
    if taken:
        raise Conflict(f"SNMS user {username} already exists", field="username")
    try:
        async with tenant_transaction(tenant.id):
            row = (
                await SnmsAccount.insert(
                    SnmsAccount(
                        tenant_id=tenant.id,
                        username=username,
                        password_hash=hash_password(password),
                        v1_digest=_seal(digest),
                        role=role,
                        created_at=datetime.now(UTC),
                    )
                )
                .returning(SnmsAccount.id)
                .run()
            )[0]
            await audit.record(
                actor=actor,
                action="snms_user.create",
                target=username,
                tenant_id=tenant.id,
                detail={"role": role},
            )
    except Exception as exc:
        if db.is_unique_violation(exc):  # the same name, taken meanwhile
            raise Conflict(f"SNMS user {username} already exists", field="username") from None
        raise
    return int(row["id"])


def _v1_candidates(digest: str) -> list[str]:
    """Clients hash with their local date; accept yesterday, today and tomorrow (UTC+8)."""
    today = datetime.now(_CHINA).date()
    days = [today + timedelta(days=d) for d in (-1, 0, 1)]
    return [hashlib.sha256((digest + d.isoformat()).encode()).hexdigest() for d in days]


_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# Compared against when the account does not exist, so an unknown name costs the same
# work (and time) as a known one: the answer never tells which names exist.
_DUMMY_DIGEST = hashlib.sha256(b"idnest:no-such-account").hexdigest()


@functools.cache
def _dummy_hash() -> str:
    return hash_password("idnest:no-such-account")


def _v1_matches(digest: str, answer: str) -> bool:
    """Whether ``answer`` is ``sha256(digest + day)`` for one of the accepted days: every
    candidate is compared in constant time, none short-circuits, and only 64 lower-case
    hex characters can match (the SNMS contract fixes the form, so it cannot be slowed
    with a password hash; login throttling bounds the guesses instead)."""
    answer = answer.strip().lower()
    well_formed = bool(_HEX64.match(answer))
    ok = False
    for candidate in _v1_candidates(digest):
        ok |= hmac.compare_digest(candidate.encode(), answer.encode() if well_formed else b"")
    return ok and well_formed


async def login(
    username: str, password: str, *, v1: bool = False, source: str = ""
) -> tuple[str, int]:
    """A 24-hour token for good credentials; AuthenticationFailed otherwise. Both
    outcomes are audited (the source address in the detail)."""
    async with cross_tenant("auth"):
        row = await SnmsAccount.select().where(SnmsAccount.username == username).first().run()
    usable = row is not None and bool(row["is_active"])
    if v1:
        digest = _unseal(row["v1_digest"]) if usable and row and row["v1_digest"] else ""
        ok = _v1_matches(digest or _DUMMY_DIGEST, password) and bool(digest)
    else:
        stored = row["password_hash"] if usable and row else _dummy_hash()
        ok = verify_password(password, stored) and usable
    detail = {"door": "v1" if v1 else "password", "source": source}
    if not ok or row is None:
        # A node-level entry (staff see it): whoever guesses may not write into the
        # trail of the tenant whose account they guess at.
        await audit.record(actor=f"snms:{username[:128]}", action="login.failed",
                           target="snms", detail=detail)  # fmt: skip
        raise AuthenticationFailed("wrong username or password")
    await audit.record(actor=f"snms:{username}", action="login", target="snms",
                       tenant_id=row["tenant_id"], detail=detail)  # fmt: skip
    now = int(time.time())
    claims = {"sub": str(row["id"]), "tid": row["tenant_id"], "iat": now, "exp": now + TOKEN_TTL}
    return jwt.encode({"alg": "HS256"}, claims, _jwk()), TOKEN_TTL


async def principal_from_token(token: str) -> Principal:
    """The caller behind an SNMS token; the account and tenant are checked every time,
    so a disabled account or a suspended tenant stops working at once."""
    try:
        claims = jwt.decode(token, _jwk()).claims
        jwt.JWTClaimsRegistry(exp={"essential": True}).validate(claims)
    except (JoseError, ValueError):
        raise AuthenticationFailed("the token is invalid or expired; log in again") from None
    async with cross_tenant("auth"):
        row = await SnmsAccount.select().where(SnmsAccount.id == int(claims["sub"])).first().run()
    if row is None or not row["is_active"] or row["tenant_id"] != claims.get("tid"):
        raise AuthenticationFailed("the account behind this token is gone; log in again")
    tenant = await Tenant.select(Tenant.prefix).where(Tenant.id == row["tenant_id"]).first().run()
    if tenant is None:
        raise AuthenticationFailed("the tenant behind this token is gone")
    scopes = {"read"} if row["role"] == "viewer" else {"read", "write"}
    return Principal(
        actor=f"snms:{row['username']}",
        tenant_id=row["tenant_id"],
        tenant_prefix=tenant["prefix"],
        scopes=frozenset(scopes | {f"role:{row['role']}"}),
    )


def to_handle_values(item: dict[str, Any]) -> list[Any]:
    """SNMS ``value`` items become Handle values; ``templateVersion`` goes to index 1001;
    ``auth`` 1 makes a value visible to the tenant only."""
    raw = item.get("value", item.get("values", []))
    if not isinstance(raw, list):
        raise InvalidValue("value must be a list of {index, type, data}", field="value")
    out: list[Any] = []
    for v in raw:
        if isinstance(v, dict) and "auth" in v:
            auth = v["auth"]
            v = {k: x for k, x in v.items() if k != "auth"}
            if str(auth) == "1":
                v["permissions"] = "1100"
        out.append(v)
    version = item.get("templateVersion")
    if version and not any(isinstance(v, dict) and v.get("index") == 1001 for v in out):
        out.append({"index": 1001, "type": "templateVersion", "data": str(version)})
    return out
