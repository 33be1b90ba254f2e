"""Pending authentication challenges, node-wide, keyed by a server-assigned session id.

Why node-wide: CNRI's hdllib reads the challenge (rc 402), closes the TCP connection and
answers on a *new* connection, with request id + 1 and the challenge's session id. That
connection may land on another resolver process (SO_REUSEPORT spreads them), so a
challenge cannot live in one connection or one process: with ``IDNEST_REDIS_URL`` the
table is in Redis, otherwise (the embedded profile, one process) in memory.

Promises, in both stores:

* a session id is non-zero, random (31 bits) and unique among pending challenges;
* a challenge is keyed by (client address, session id): an answer from another address
  finds nothing, so it can neither use nor consume someone else's challenge;
* single use (``take`` removes it; Redis ``GETDEL``), expiry after ``ttl`` seconds;
* at most ``per_source`` pending per client address: a new one evicts that address's
  oldest, so a client cannot fill the table; the memory store also caps the total.

``challenge`` issues one (the rc 402 frame, carrying the session id) and ``pending_for``
finds the one a RESPONSE_TO_CHALLENGE answers; ``Connection`` is a TCP connection's own
state, for clients that answer on the same connection without the session id.
"""

from __future__ import annotations

import secrets
import struct
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Final, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from core import redisconn
from core.errors import ServiceUnavailable
from core.settings import Settings
from resolver.wire import codec
from resolver.wire.constants import NONCE_SIZE
from resolver.wire.message import ENVELOPE, Envelope, Message

_HEAD: Final = struct.Struct(">IBB")  # request id, nonce length, digest length
MAX_MEMORY_CHALLENGES: Final = 65536
MAX_SESSIONS_PER_CONNECTION: Final = 16


@dataclass(frozen=True, slots=True)
class Pending:
    """A challenged request: its frame (envelope + message), the nonce and the digest."""

    request_id: int
    nonce: bytes
    digest: bytes
    frame: bytes

    def pack(self) -> bytes:
        head = _HEAD.pack(self.request_id, len(self.nonce), len(self.digest))
        return b"".join((head, self.nonce, self.digest, self.frame))

    @classmethod
    def unpack(cls, raw: bytes) -> Pending:
        request_id, n, d = _HEAD.unpack_from(raw)
        at = _HEAD.size
        return cls(request_id, raw[at : at + n], raw[at + n : at + n + d], raw[at + n + d :])


def new_session_id() -> int:
    return secrets.randbits(31) or 1


class ChallengeStore(Protocol):
    async def put(self, source: str, pending: Pending) -> int:
        """Keep ``pending`` for ``source``; the session id to send with the challenge."""
        ...

    async def take(self, source: str, session_id: int) -> Pending | None:
        """The pending challenge, removed; None when unknown, expired or used."""
        ...

    async def close(self) -> None: ...


class MemoryChallenges:
    """One process's table (the embedded profile runs one wire process)."""

    def __init__(self, ttl: float, per_source: int, *, limit: int = MAX_MEMORY_CHALLENGES,
                 clock: object = time.monotonic) -> None:  # fmt: skip
        self.ttl = ttl
        self.per_source = max(1, per_source)
        self.limit = limit
        self._clock = clock
        self._table: OrderedDict[tuple[str, int], tuple[float, Pending]] = OrderedDict()
        self._by_source: dict[str, list[int]] = {}

    def _now(self) -> float:
        return self._clock()  # type: ignore[operator]

    def _forget(self, key: tuple[str, int]) -> None:
        if self._table.pop(key, None) is None:
            return
        ids = self._by_source.get(key[0])
        if ids is not None:
            ids.remove(key[1])
            if not ids:
                del self._by_source[key[0]]

    def _expire(self, now: float) -> None:
        while self._table:
            key, (born, _) = next(iter(self._table.items()))
            if now - born < self.ttl and len(self._table) < self.limit:
                return
            self._forget(key)

    async def put(self, source: str, pending: Pending) -> int:
        now = self._now()
        self._expire(now)
        ids = self._by_source.setdefault(source, [])
        while len(ids) >= self.per_source:
            self._forget((source, ids[0]))
            ids = self._by_source.setdefault(source, [])
        session_id = new_session_id()
        while (source, session_id) in self._table:
            session_id = new_session_id()
        self._table[(source, session_id)] = (now, pending)
        ids.append(session_id)
        return session_id

    async def take(self, source: str, session_id: int) -> Pending | None:
        key = (source, session_id)
        entry = self._table.get(key)
        if entry is None:
            return None
        self._forget(key)
        if self._now() - entry[0] >= self.ttl:
            return None
        return entry[1]

    async def close(self) -> None:
        self._table.clear()
        self._by_source.clear()

    def __len__(self) -> int:
        return len(self._table)


class RedisChallenges:
    """The table in Redis, shared by every resolver process of the node."""

    def __init__(self, client: aioredis.Redis, namespace: str, ttl: float,
                 per_source: int) -> None:  # fmt: skip
        self.redis = client
        self.prefix = f"{namespace}:wire:challenge"
        self.ttl_ms = max(1, int(ttl * 1000))
        self.per_source = max(1, per_source)

    def _key(self, source: str, session_id: int) -> str:
        return f"{self.prefix}:{source}:{session_id}"

    async def put(self, source: str, pending: Pending) -> int:
        index = f"{self.prefix}-source:{source}"
        # Scores in microseconds: challenges put in the same millisecond must still evict
        # oldest first (equal scores would fall back to the session ids' order).
        now_us = time.time_ns() // 1000
        try:
            for _ in range(8):
                session_id = new_session_id()
                if await self.redis.set(self._key(source, session_id), pending.pack(),
                                        px=self.ttl_ms, nx=True):  # fmt: skip
                    break
            else:  # pragma: no cover - 8 collisions in 2**31 ids
                raise ServiceUnavailable("could not allocate a challenge session id")
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zremrangebyscore(index, "-inf", now_us)
                pipe.zadd(index, {str(session_id): now_us + self.ttl_ms * 1000})
                pipe.pexpire(index, self.ttl_ms)
                pipe.zcard(index)
                *_, count = await pipe.execute()
            if count > self.per_source:
                oldest = await self.redis.zpopmin(index, count - self.per_source)
                stale = [self._key(source, int(item[0])) for item in oldest]
                if stale:
                    await self.redis.delete(*stale)
        except RedisError as exc:
            raise ServiceUnavailable(f"the challenge table is unreachable ({exc})") from None
        return session_id

    async def take(self, source: str, session_id: int) -> Pending | None:
        try:
            raw = await self.redis.getdel(self._key(source, session_id))
            if not isinstance(raw, bytes):
                return None
            await self.redis.zrem(f"{self.prefix}-source:{source}", str(session_id))
        except RedisError as exc:
            raise ServiceUnavailable(f"the challenge table is unreachable ({exc})") from None
        return Pending.unpack(raw)

    async def close(self) -> None:
        await self.redis.aclose()


class Connection:
    """Per-TCP-connection state: failed answers, and the session ids of its challenges
    (for clients that answer on the same connection without echoing the session id)."""

    __slots__ = ("failures", "peer", "sessions", "source")

    def __init__(self, peer: Any) -> None:
        self.peer = peer
        self.source = str(peer[0]) if isinstance(peer, tuple) and peer else str(peer)
        self.failures = 0
        self.sessions: dict[int, int] = {}

    def remember(self, request_id: int, session_id: int) -> None:
        if len(self.sessions) >= MAX_SESSIONS_PER_CONNECTION:
            self.sessions.pop(next(iter(self.sessions)))
        self.sessions[request_id] = session_id


async def challenge(store: ChallengeStore, msg: Message, conn: Connection) -> bytes:
    """AUTHENTICATION_NEEDED with a fresh nonce and a session id naming the challenge."""
    nonce = secrets.token_bytes(NONCE_SIZE)
    digest = codec.request_digest(msg)
    env = msg.envelope
    head = ENVELOPE.pack(env.major, env.minor, env.suggest_major, env.suggest_minor,
                         env.session_id, env.request_id, 0, env.length)  # fmt: skip
    frame = head + msg.frame[msg.start : msg.start + env.length]
    # The client signs nonce + the raw digest (without the hash-code byte).
    session_id = await store.put(conn.source, Pending(env.request_id, nonce, digest[1:], frame))
    conn.remember(env.request_id, session_id)
    return codec.encode_challenge(env._replace(session_id=session_id), msg.header, nonce, digest)


async def pending_for(store: ChallengeStore, env: Envelope, conn: Connection) -> Pending | None:
    """The challenge a RESPONSE_TO_CHALLENGE answers (taken: one use), or None.

    hdllib answers on a new connection with the challenge's session id and request id
    + 1; an RFC-style client may answer on the same connection with the same request
    id, with or without the session id."""
    session_id = env.session_id or conn.sessions.get(env.request_id, 0)
    if not session_id:
        return None
    pending = await store.take(conn.source, session_id)
    if pending is None or env.request_id not in (
        pending.request_id,
        (pending.request_id + 1) & 0xFFFFFFFF,
    ):
        return None
    return pending


def challenge_store(settings: Settings) -> ChallengeStore:
    """Redis when the node has one (every process shares it), else this process's memory."""
    ttl, per_source = settings.wire_challenge_ttl, settings.wire_challenges_per_source
    if settings.uses_redis:
        client = redisconn.client(settings)
        return RedisChallenges(client, settings.redis_namespace, ttl, per_source)
    return MemoryChallenges(ttl, per_source)
