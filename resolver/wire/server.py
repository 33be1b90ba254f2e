"""The Handle wire protocol server (RFC 3652) on UDP and TCP: the request dispatcher.

Why this shape: the UDP hot path (a cached, unfiltered, public RESOLUTION) is answered
synchronously inside ``datagram_received`` from the record's cached wire value block
(``Record.wire_public``), with no task and no await; everything else goes through
``WireServer.answer``, which resolves through the shared ``Resolver`` (one store, one
cache with the HTTP door) and maps ``core.errors`` to response codes once (``exc.rc``).

Promises: a malformed request gets PROTOCOL_ERROR, or nothing when it cannot be
addressed; an unexpected exception becomes rc ERROR (2) and a log line, never a
traceback on the wire. A UDP answer longer than one 512-byte datagram is sent as
several (``IDNEST_WIRE_UDP_MAX_DATAGRAMS`` at most, each spent from the source's rate
budget); a longer one as its first datagram with TRUNCATED, so the client asks again
over TCP. Admin operations and restricted reads need TCP: they are challenged (rc 402,
with a session id the server assigns; the challenge is kept node-wide in
``resolver.wire.challenges``) and run once the client's RESPONSE_TO_CHALLENGE checks
out, on the same connection or, as hdllib does, on a new one with request id + 1.
Sockets and processes live in ``resolver.wire.listener``.
"""

from __future__ import annotations

import asyncio
import logging
from time import perf_counter
from typing import Any

from core.auth import Principal
from core.errors import AuthenticationFailed, IdnestError, InvalidHandle, ValuesNotFound
from core.identifiers import fold
from core.metrics import METER, Labels
from core.settings import Settings
from resolver.cache import Record
from resolver.observability.metering import record as meter_resolution
from resolver.observability.metering import wire_result
from resolver.service import Query, Resolver, SelfDeployed
from resolver.wire import admin, codec
from resolver.wire.bodies import (
    Body,
    ChallengeAnswer,
    ResolutionRequest,
    decode_body,
    decode_request,
)
from resolver.wire.challenges import (
    ChallengeStore,
    Connection,
    challenge,
    challenge_store,
    pending_for,
)
from resolver.wire.constants import MAX_UDP_PACKET, TRUNCATED, OpCode, OpFlag, ResponseCode
from resolver.wire.framing import Reassembler, split_for_udp
from resolver.wire.message import (
    Envelope,
    Header,
    Message,
    decode_message,
    parse_message,
)
from resolver.wire.nodesite import node_site
from resolver.wire.ratelimit import TokenBuckets, request_buckets
from resolver.wire.reader import ProtocolError
from resolver.wire.site import encode_site
from resolver.wire.templates import AnswerTemplates

log = logging.getLogger("idnest.wire")

_AUTH = int(OpFlag.AUTH)
_PUBL = int(OpFlag.PUBL)
_RRDG = int(OpFlag.RRDG)
MAX_SLOW_TASKS = 2048  # UDP requests waiting for the database; beyond this, drop
MAX_AUTH_FAILURES = 3  # per TCP connection: then it is closed (slows guessing down)
MAX_CONNECTIONS = 1024  # open TCP connections per process; more are closed at once
TCP_IDLE_TIMEOUT = 60.0
TCP_TEMPLATE_LIMIT = 8192  # longer TCP answers are not kept as templates


def _digest(msg: Message) -> bytes:
    return codec.request_digest(msg) if msg.header.op_flags & _RRDG else b""


def _encode_public(record: Record) -> bytes:
    return codec.encode_values(record.public)


def handle_text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidHandle("the handle is not valid UTF-8", field="handle") from None


class WireServer:
    """Answers requests; shared by every socket of one process."""

    def __init__(self, resolver: Resolver, settings: Settings) -> None:
        self.resolver = resolver
        self.cache = resolver.cache
        self.counters = resolver.counters
        self.settings = settings
        self.limiter = TokenBuckets(settings.wire_udp_rate, settings.wire_udp_burst)
        self.requests = request_buckets(settings)  # past it: rc 3 SERVER_TOO_BUSY
        self.max_datagrams = settings.wire_udp_max_datagrams
        self.challenges: ChallengeStore = challenge_store(settings)
        self.reassembler = Reassembler()
        self.tasks: set[asyncio.Task[None]] = set()
        self.dropped = 0
        self.truncated = 0
        self.errors = 0
        self.connections = 0
        self.datagrams = 0
        self.refused = 0
        METER.add_source("wire", self.metric_values)
        self.udp_templates = AnswerTemplates(MAX_UDP_PACKET)
        self.tcp_templates = AnswerTemplates(TCP_TEMPLATE_LIMIT)
        self._site: bytes | None = None

    def metric_values(self) -> list[tuple[str, Labels, float]]:
        return [
            ("idnest_wire_udp_datagrams_total", (), self.datagrams),
            ("idnest_wire_udp_rate_limited_total", (), self.refused),
            ("idnest_wire_udp_truncated_total", (), self.truncated),
            ("idnest_wire_dropped_total", (), self.dropped),
        ]

    def site_bytes(self) -> bytes:
        if self._site is None:
            self._site = encode_site(node_site(self.settings))
        return self._site

    # --- resolution -------------------------------------------------------------------

    def _public_answer(self, msg: Message, handle: bytes, record: Record) -> bytes:
        block = record.wire_public
        if block is None:
            block = self.cache.wire_block(fold(record.handle), record, _encode_public)
        if block[:4] == b"\x00\x00\x00\x00":  # no public values
            return codec.encode_error_response(
                msg.envelope, msg.header, ResponseCode.VALUES_NOT_FOUND,
                f"handle {record.handle} has no public values", digest=_digest(msg),
            )  # fmt: skip
        return codec.encode_resolution_response(
            msg.envelope, msg.header, handle, block, digest=_digest(msg)
        )

    def fast(self, msg: Message, body: Body, *, tcp: bool) -> bytes | None:
        """The synchronous answer to a cached, unfiltered, public resolution, or None."""
        hit = self._fast_hit(msg, body, tcp=tcp)
        return None if hit is None else hit[2]

    def _fast_hit(
        self, msg: Message, body: Body, *, tcp: bool
    ) -> tuple[str, Record, bytes] | None:
        """(handle key, cached record, answer) for ``fast``, counted as a cache hit."""
        if type(body) is not ResolutionRequest or body.indices or body.types:
            return None
        flags = msg.header.op_flags
        if tcp and flags & _AUTH:
            return None
        try:
            key = fold(body.handle.decode("utf-8"))
        except UnicodeDecodeError:
            return None
        entry = self.cache.get(key)
        if type(entry) is not Record or entry.lifecycle is not None:  # HS_STATUS: slow path
            return None
        if tcp and not flags & _PUBL and not entry.all_public:
            return None  # restricted values asked for: challenge on the slow path
        self.cache.hits += 1
        self.counters.hit(entry.tenant_id)
        return key, entry, self._public_answer(msg, body.handle, entry)

    def cached_answer(
        self, data: bytes, msg: Message, body: Body, *, tcp: bool
    ) -> tuple[str, bytes] | None:
        """``fast``'s (handle key, answer), kept as a template for the next byte-identical
        request on the same transport; None when the slow path must answer."""
        hit = self._fast_hit(msg, body, tcp=tcp)
        if hit is None:
            return None
        key, record, reply = hit
        (self.tcp_templates if tcp else self.udp_templates).keep(data, msg, reply, key, record)
        return key, reply

    async def _resolve(
        self, msg: Message, body: ResolutionRequest, conn: Connection | None,
        principal: Principal | None = None, reply_env: Envelope | None = None,
    ) -> bytes:  # fmt: skip
        env, hdr = reply_env or msg.envelope, msg.header
        flags = hdr.op_flags
        # AUTH (skip caches) only over TCP: over UDP it would let anyone flood the database.
        auth, text = conn is not None and bool(flags & _AUTH), handle_text(body.handle)
        record = await self.resolver.lookup(
            text,
            authoritative=auth,
            admit=False,  # +HS_STATUS
            refer=not flags & OpFlag.DNRF,
        )  # DNRF: we ask
        restricted = conn is not None and not flags & _PUBL and not record.all_public
        if restricted and principal is None:
            assert conn is not None
            return await self._challenge(msg, conn)
        query = Query(
            indices=frozenset(body.indices),
            types=tuple(t.decode("utf-8", "replace") for t in body.types),
            public_only=not restricted,
        )
        plain = record.lifecycle is None and reply_env is None
        if plain and not query.filtered and query.public_only:
            return self._public_answer(msg, body.handle, record)
        values = await self.resolver.view_for(record, query, principal, status=True)
        if not values:
            raise ValuesNotFound(f"handle {record.handle} has no values matching the request")
        block = codec.join_encoded([codec.encode_value(v) for v in values])
        return codec.encode_resolution_response(env, hdr, body.handle, block, digest=_digest(msg))

    # --- authentication -----------------------------------------------------------------

    async def _challenge(self, msg: Message, conn: Connection) -> bytes:
        return await challenge(self.challenges, msg, conn)

    async def _answered(self, msg: Message, body: ChallengeAnswer, conn: Connection) -> list[bytes]:
        """Check a challenge answer; run the challenged request as the authenticated one."""
        pending = await pending_for(self.challenges, msg.envelope, conn)
        if pending is None:
            return [codec.encode_error_response(
                msg.envelope, msg.header, ResponseCode.AUTHEN_ERROR,
                "no challenge is pending for this session id (expired, used or unknown)",
            )]  # fmt: skip
        target = decode_message(pending.frame)
        target_body, _ = decode_body(target)
        try:
            principal = await admin.authenticate(self.resolver, body, pending.nonce,
                                                 pending.digest, conn.source)  # fmt: skip
        except AuthenticationFailed:
            conn.failures += 1  # the stream closes after MAX_AUTH_FAILURES
            raise
        if isinstance(target_body, ResolutionRequest):
            return [await self._resolve(target, target_body, conn, principal, msg.envelope)]
        return await admin.run_admin(target, target_body, principal, msg)

    # --- dispatch ---------------------------------------------------------------------

    async def answer(self, msg: Message, body: Body, conn: Connection | None) -> list[bytes]:
        """Every frame answering ``msg`` (several for LIST_HANDLES with CONT)."""
        env: Envelope = msg.envelope
        hdr: Header = msg.header
        op = hdr.opcode
        try:
            if op == OpCode.RESOLUTION and isinstance(body, ResolutionRequest):
                return [await self._resolve(msg, body, conn)]
            if op == OpCode.GET_SITE_INFO:
                return [codec.encode_site_info_response(env, hdr, self.site_bytes(),
                                                        digest=_digest(msg))]  # fmt: skip
            if op in admin.ADMIN_OPS or op == OpCode.RESPONSE_TO_CHALLENGE:
                if conn is None:
                    return [codec.encode_error_response(
                        env, hdr, ResponseCode.OPERATION_NOT_SUPPORTED,
                        "administration is over TCP only",
                    )]  # fmt: skip
                if isinstance(body, ChallengeAnswer):
                    return await self._answered(msg, body, conn)
                return [await self._challenge(msg, conn)]
            return [codec.encode_error_response(
                env, hdr, ResponseCode.OPERATION_NOT_SUPPORTED, f"opcode {op} is not supported"
            )]  # fmt: skip
        except IdnestError as exc:  # a self-deployed prefix is referred to its own servers
            return [exc.referral(env, hdr, _digest(msg)) if isinstance(exc, SelfDeployed) else
                    codec.encode_error_response(env, hdr, exc.rc, exc.detail,
                                                digest=_digest(msg))]  # fmt: skip
        except ProtocolError as exc:
            return [codec.encode_error_response(env, hdr, exc.rc, exc.message)]
        except Exception:
            self.errors += 1
            log.exception("wire request (opcode %s) failed", op)
            return [codec.encode_error_response(env, hdr, ResponseCode.ERROR, "internal error")]

    # --- UDP --------------------------------------------------------------------------

    def udp_datagrams(self, frame: bytes, addr: Any) -> list[bytes]:
        """The datagrams to send for an answer longer than one (the caller checked).

        Every datagram after the first is spent from the source's budget (the first was
        spent when the request came in): a reflection through us costs the victim's
        address its rate in datagrams, whatever the answers' sizes. Past the bound, or
        without the budget, the first datagram alone goes, TRUNCATED: ask over TCP."""
        packets = split_for_udp(frame, max_packets=self.max_datagrams)
        if len(packets) > 1 and not self.limiter.spend(addr[0], len(packets) - 1):
            self.truncated += 1
            return split_for_udp(frame, max_packets=1)
        if len(packets) == 1:
            self.truncated += 1
        return packets

    def datagram(self, data: bytes, addr: Any, send: Any) -> None:
        """One datagram in; ``send(frame, addr)`` for the answer."""
        self.datagrams += 1
        if not self.limiter.allow(addr[0]):
            self.refused += 1
            return
        if not self.requests.allow(addr[0]):
            reply = self.busy(data)
            if reply is not None:
                send(reply, addr)
            return
        started = perf_counter()
        hit = self.udp_templates.answer(data, self.cache, self.counters)
        if hit is not None:
            send(hit[1], addr)
            meter_resolution("wire-udp", "ok", started, hit[0], addr[0])
            return
        try:
            if len(data) > 2 and data[2] & TRUNCATED:
                whole = self.reassembler.feed(addr, data)
                if whole is None:
                    return
                msg = parse_message(*whole)
                if msg.header.rc != 0:
                    raise ProtocolError("a response was sent to the server")
                body, _ = decode_body(msg)
            else:
                msg, body = decode_request(data)
        except ProtocolError as exc:
            reply = codec.encode_protocol_error(data, exc)
            if reply is not None:
                send(reply, addr)
            return
        try:
            hit = self.cached_answer(data, msg, body, tcp=False)
        except Exception:
            hit = None  # the slow path answers (and logs) properly
        if hit is not None:
            send(hit[1], addr)
            meter_resolution("wire-udp", "ok", started, hit[0], addr[0])
            return
        if len(self.tasks) >= MAX_SLOW_TASKS:
            self.dropped += 1
            return
        task = asyncio.get_running_loop().create_task(
            self._udp_slow(msg, body, addr, send, started)
        )
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def busy(self, data: bytes) -> bytes | None:
        try:
            msg, _ = decode_request(data)
        except ProtocolError:
            return None
        return codec.encode_error_response(
            msg.envelope, msg.header, ResponseCode.SERVER_TOO_BUSY,
            "too many requests from this address; slow down",
        )  # fmt: skip

    async def _udp_slow(
        self, msg: Message, body: Body, addr: Any, send: Any, started: float
    ) -> None:
        frames = await self.answer(msg, body, None)
        for frame in frames:
            send(frame, addr)
        if type(body) is ResolutionRequest:
            meter_resolution(
                "wire-udp",
                wire_result(frames),
                started,
                body.handle.decode("utf-8", "replace"),
                addr[0],
            )
