"""The node's token signing keys: ES256 (P-256), stored in the database, rotated.

One key signs at a time. ``rotate`` makes a new one and retires the old, which is still
published in the JWKS and still verifies until every token it may have signed has
expired (``retired_grace`` after its retirement); after that it is deleted. The private
half is stored encrypted with the node's secret key (core/crypto.py).

Every process caches the keys. A rotation publishes ``oauthkeys`` on the invalidation
bus; a token naming a kid this process does not know reloads the keys (at most once a
second, so random kids cannot flood the database); and a short TTL is the backstop when
no bus is shared (the embedded CLI runs in its own process).
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from joserfc.jwk import ECKey

from core import audit, crypto
from core.bus import FLUSH_ALL, get_bus
from core.settings import get_settings
from core.tenancy import cross_tenant
from tenants.clients.tables import SigningKey

ALG = "ES256"
BUS_MESSAGE = "oauthkeys"


@dataclass(frozen=True, slots=True)
class KeyInfo:
    kid: str
    created_at: datetime
    retired_at: datetime | None


def retired_grace() -> timedelta:
    """How long a retired key still verifies: a token's life, plus the time another
    process may have kept signing with it before it heard of the rotation."""
    s = get_settings()
    return timedelta(seconds=s.oauth_token_ttl + 2 * s.auth_cache_ttl + 30)


class _KeyCache:
    def __init__(self) -> None:
        self.signing: ECKey | None = None
        self.public: dict[str, ECKey] = {}
        self.jwks: list[dict[str, str]] = []
        self.loaded_at = 0.0
        self.reload_asked_at = 0.0
        self._subscribed_to: object | None = None

    def ensure_subscribed(self) -> None:
        bus = get_bus()
        if self._subscribed_to is not bus:
            bus.subscribe(self.on_invalidate)
            self._subscribed_to = bus

    def on_invalidate(self, message: str) -> None:
        if message in (BUS_MESSAGE, FLUSH_ALL):
            self.loaded_at = 0.0

    def fresh(self) -> bool:
        return self.loaded_at + get_settings().auth_cache_ttl > time.monotonic()


_cache = _KeyCache()


def _new_row(now: datetime) -> SigningKey:
    kid = f"{now:%Y%m%d}-{secrets.token_hex(4)}"
    key = ECKey.generate_key("P-256", parameters={"kid": kid, "alg": ALG, "use": "sig"})
    return SigningKey(
        kid=kid,
        private_jwk=crypto.encrypt(json.dumps(key.as_dict(private=True))),
        public_jwk=json.dumps(key.as_dict(private=False)),
        created_at=now,
        retired_at=None,
    )


async def _load() -> None:
    """Read the keys (making the first one if there is none) into this process's cache."""
    _cache.ensure_subscribed()
    now = datetime.now(UTC)
    rows = await SigningKey.select().order_by(SigningKey.id).run()
    live = [r for r in rows if r["retired_at"] is None or r["retired_at"] + retired_grace() > now]
    signing = [r for r in live if r["retired_at"] is None]
    if not signing:
        # A fresh node, or a secret key that no longer decrypts the stored one.
        await rotate(actor="node")
        return
    public = {r["kid"]: ECKey.import_key(json.loads(r["public_jwk"])) for r in live}
    private_text = crypto.decrypt(signing[-1]["private_jwk"])
    if private_text is None:
        await rotate(actor="node", reason="the stored signing key does not decrypt")
        return
    _cache.signing = ECKey.import_key(json.loads(private_text))
    _cache.public = public
    _cache.jwks = [json.loads(r["public_jwk"]) for r in live]
    _cache.loaded_at = time.monotonic()


async def signing_key() -> ECKey:
    if not _cache.fresh() or _cache.signing is None:
        await _load()
    assert _cache.signing is not None
    return _cache.signing


async def verification_key(kid: str) -> ECKey | None:
    """The public key named ``kid``, if it is still valid."""
    if not _cache.fresh():
        await _load()
    key = _cache.public.get(kid)
    if key is None and _cache.reload_asked_at + 1.0 < time.monotonic():
        _cache.reload_asked_at = time.monotonic()
        await _load()
        key = _cache.public.get(kid)
    return key


def is_published(kid: str) -> bool:
    """Whether ``kid`` is among the keys this process last loaded (no database read)."""
    return kid in _cache.public


async def jwks() -> dict[str, list[dict[str, str]]]:
    """The JSON Web Key Set (RFC 7517): every key that may still verify a token."""
    if not _cache.fresh():
        await _load()
    return {"keys": list(_cache.jwks)}


async def rotate(*, actor: str, reason: str = "") -> str:
    """A new signing key; the old one is retired (still verifying for a while). Keys
    retired past their grace are deleted. Returns the new kid."""
    now = datetime.now(UTC)
    row = _new_row(now)
    async with cross_tenant("node", write=True):
        await (
            SigningKey.update({SigningKey.retired_at: now})
            .where(SigningKey.retired_at.is_null())
            .run()
        )
        await SigningKey.insert(row).run()
        await SigningKey.delete().where(SigningKey.retired_at < now - retired_grace()).run()
        await audit.record(
            actor=actor, action="oauth.key.rotate", target=row.kid, detail={"reason": reason}
        )
    _cache.loaded_at = 0.0
    await get_bus().publish(BUS_MESSAGE)
    await _load()
    return str(row.kid)


async def list_keys() -> list[KeyInfo]:
    rows = (
        await SigningKey.select(SigningKey.kid, SigningKey.created_at, SigningKey.retired_at)
        .order_by(SigningKey.id)
        .run()
    )
    return [KeyInfo(r["kid"], r["created_at"], r["retired_at"]) for r in rows]
