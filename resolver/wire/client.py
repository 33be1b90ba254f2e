"""A small Handle wire-protocol client: resolve a handle over UDP or TCP port 2641.

It exists for the ``idnest resolve`` command, for tests of the wire server, and for
checking other nodes. It promises:

* UDP first when asked: requests longer than one packet are split, multi-packet
  answers are reassembled, lost datagrams are re-sent within the timeout, and an answer
  that arrives TRUNCATED and cannot be completed is fetched again over TCP;
* TCP answers spread over several envelopes or several messages (CONT flag) are
  gathered into one result;
* failures surface as ``TimeoutError``, ``OSError`` (e.g. connection refused) or
  ``ProtocolError`` (the server sent something malformed); every Handle response code,
  including errors, comes back as a normal result.

``format_record`` renders values for people; it is what the CLI prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Literal, NamedTuple, TypeVar

from core.values import HandleValue
from resolver.wire.bodies import (
    Body,
    Challenge,
    ErrorResponse,
    ListHandlesResponse,
    Referral,
    ResolutionResponse,
    SiteInfoResponse,
    decode_body,
    handle_body,
    resolution_request_body,
)
from resolver.wire.codec import Message, decode_envelope, encode_request, parse_message
from resolver.wire.constants import (
    CONT,
    DEFAULT_REQUEST_FLAGS,
    TRUNCATED,
    OpCode,
    OpFlag,
    ResponseCode,
)
from resolver.wire.framing import Reassembler, read_message, split_for_udp
from resolver.wire.reader import ProtocolError

Transport = Literal["udp", "tcp"]
Server = tuple[str, int]
Reply = tuple[Message, Body]
DEFAULT_SERVER: Server = ("127.0.0.1", 2641)
_T = TypeVar("_T")


class Resolution(NamedTuple):
    """``rc`` and either the values (success, referral) or the server's error message."""

    rc: int
    result: list[HandleValue] | str


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | Exception] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.queue.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        self.queue.put_nowait(exc)


def _decode(envelope: Any, message: bytes) -> Reply:
    msg = parse_message(envelope, message)
    body, _digest = decode_body(msg)
    return msg, body


async def _udp(
    frame: bytes,
    request_id: int,
    server: Server,
    resend: float,
    truncated_wait: float,
    noise: list[bytes] | None = None,
) -> tuple[Reply, int] | None:
    """One UDP exchange; ``None`` when the answer needs TCP (TRUNCATED and incomplete, or CONT).

    Datagrams that are no Handle envelope at all are skipped (a stray packet must not
    spoil the exchange) and kept in ``noise`` (at most 8), so that a caller whose
    deadline passes can tell a silent server from one that only sent garbage."""
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(_Datagrams, remote_addr=server)
    try:
        packets = split_for_udp(frame)
        for packet in packets:
            transport.sendto(packet)
        reassembler = Reassembler(max_pending=4)
        truncated = False
        datagrams = 0
        while True:
            try:
                item = await asyncio.wait_for(
                    proto.queue.get(), truncated_wait if truncated else resend
                )
            except TimeoutError:
                if truncated:
                    return None
                for packet in packets:
                    transport.sendto(packet)
                continue
            if isinstance(item, Exception):
                raise item
            try:
                envelope = decode_envelope(item)
            except ProtocolError:
                if noise is not None and len(noise) < 8:
                    noise.append(item[:64])
                continue  # not for us or garbage: keep waiting for the real answer
            if envelope.request_id != request_id:
                continue
            truncated = truncated or bool(envelope.flags & TRUNCATED)
            datagrams += 1
            try:
                whole = reassembler.feed(server, item)
            except ProtocolError:
                return None
            if whole is not None:
                reply = _decode(*whole)
                # An answer in several messages (CONT) is only complete over TCP.
                return None if reply[0].header.op_flags & CONT else (reply, datagrams)
    finally:
        transport.close()


async def _tcp(frame: bytes, request_id: int, server: Server) -> list[Reply]:
    reader, writer = await asyncio.open_connection(*server)
    try:
        writer.write(frame)
        await writer.drain()
        replies: list[Reply] = []
        while True:
            got = await read_message(reader)
            if got is None:
                raise ProtocolError("the server closed the connection before answering")
            if got[0].request_id != request_id:
                continue
            msg, body = _decode(*got)
            replies.append((msg, body))
            if not msg.header.op_flags & CONT:
                return replies
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def exchange(
    opcode: int,
    body: bytes,
    *,
    server: Server = DEFAULT_SERVER,
    transport: Transport = "udp",
    timeout: float = 5.0,  # noqa: ASYNC109 - callers give one deadline for all retries
    op_flags: int = DEFAULT_REQUEST_FLAGS,
) -> list[Reply]:
    """Send one request and return every message of the answer (several when CONT)."""
    return (await exchange_via(opcode, body, server=server, transport=transport,
                               timeout=timeout, op_flags=op_flags))[0]  # fmt: skip


async def exchange_via(
    opcode: int,
    body: bytes,
    *,
    server: Server = DEFAULT_SERVER,
    transport: Transport = "udp",
    timeout: float = 5.0,  # noqa: ASYNC109 - callers give one deadline for all retries
    op_flags: int = DEFAULT_REQUEST_FLAGS,
) -> tuple[list[Reply], str]:
    """``exchange``, and how the answer came: "udp, N datagram(s)", "tcp", "tcp after udp"."""
    request_id = secrets.randbits(31) or 1
    frame = encode_request(opcode, body, request_id=request_id, op_flags=op_flags)
    noise: list[bytes] = []
    try:
        async with asyncio.timeout(timeout):
            if transport == "udp":
                got = await _udp(frame, request_id, server, max(timeout / 4, 0.05), 0.2, noise)
                if got is not None:
                    reply, n = got
                    return [reply], f"udp, {n} datagram{'s' if n != 1 else ''}"
            via = "tcp after udp" if transport == "udp" else "tcp"
            return await _tcp(frame, request_id, server), via
    except TimeoutError:
        if noise:  # it did answer, with nothing we can read: not a silent server
            raise ProtocolError(f"only unreadable datagrams came back ({len(noise)})") from None
        raise


def _failure(msg: Message, body: Body) -> str:
    if isinstance(body, ErrorResponse) and body.message:
        return body.message
    if isinstance(body, Challenge):
        return "authentication needed"
    try:
        return ResponseCode(msg.header.rc).name.lower().replace("_", " ")
    except ValueError:
        return f"response code {msg.header.rc}"


async def resolve(
    handle: str,
    *,
    server: Server = DEFAULT_SERVER,
    transport: Transport = "udp",
    types: Sequence[str] = (),
    indices: Sequence[int] = (),
    timeout: float = 5.0,  # noqa: ASYNC109 - one deadline covers UDP retries and TCP fallback
    authoritative: bool = False,
) -> Resolution:
    """Resolve ``handle``: ``(1, values)``, ``(302/303, referral values)`` or ``(rc, message)``."""
    return (await resolve_routed(handle, server=server, transport=transport, types=types,
                                 indices=indices, timeout=timeout,
                                 authoritative=authoritative))[0]  # fmt: skip


async def resolve_routed(
    handle: str,
    *,
    server: Server = DEFAULT_SERVER,
    transport: Transport = "udp",
    types: Sequence[str] = (),
    indices: Sequence[int] = (),
    timeout: float = 5.0,  # noqa: ASYNC109
    authoritative: bool = False,
) -> tuple[Resolution, str]:
    """``resolve``, and how the answer came (``exchange_via``: "udp, 5 datagrams", …)."""
    flags = DEFAULT_REQUEST_FLAGS | (OpFlag.AUTH if authoritative else 0)
    replies, via = await exchange_via(
        OpCode.RESOLUTION, resolution_request_body(handle, indices, types),
        server=server, transport=transport, timeout=timeout, op_flags=flags,
    )  # fmt: skip
    values: list[HandleValue] = []
    for msg, body in replies:
        if isinstance(body, ResolutionResponse | Referral):
            values.extend(body.values)
        else:
            return Resolution(msg.header.rc, _failure(msg, body)), via
    return Resolution(replies[-1][0].header.rc, values), via


async def list_handles(
    prefix: str,
    *,
    server: Server = DEFAULT_SERVER,
    timeout: float = 30.0,  # noqa: ASYNC109
) -> tuple[int, list[str] | str]:
    """LIST_HANDLES under ``prefix`` (over TCP, as the answer may span several messages)."""
    replies = await exchange(
        OpCode.LIST_HANDLES, handle_body(f"0.NA/{prefix}"), server=server, transport="tcp",
        timeout=timeout,
    )  # fmt: skip
    handles: list[str] = []
    for msg, body in replies:
        if not isinstance(body, ListHandlesResponse):
            return msg.header.rc, _failure(msg, body)
        handles.extend(h.decode("utf-8", "replace") for h in body.handles)
    return ResponseCode.SUCCESS, handles


async def get_site_info(
    *,
    server: Server = DEFAULT_SERVER,
    transport: Transport = "udp",
    timeout: float = 5.0,  # noqa: ASYNC109
) -> tuple[int, dict[str, Any] | str]:
    """GET_SITE_INFO: the server's HS_SITE description, in our JSON form."""
    replies = await exchange(
        OpCode.GET_SITE_INFO, handle_body(""), server=server, transport=transport, timeout=timeout
    )
    msg, body = replies[-1]
    if isinstance(body, SiteInfoResponse):
        return msg.header.rc, dict(body.site)
    return msg.header.rc, _failure(msg, body)


def _run(make: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    raise RuntimeError("an event loop is running here: await the async function instead")


def resolve_sync(handle: str, **kwargs: Any) -> Resolution:
    """``resolve`` for synchronous callers (not from inside a running event loop)."""
    return _run(lambda: resolve(handle, **kwargs))


def resolve_routed_sync(handle: str, **kwargs: Any) -> tuple[Resolution, str]:
    return _run(lambda: resolve_routed(handle, **kwargs))


def list_handles_sync(prefix: str, **kwargs: Any) -> tuple[int, list[str] | str]:
    return _run(lambda: list_handles(prefix, **kwargs))


def get_site_info_sync(**kwargs: Any) -> tuple[int, dict[str, Any] | str]:
    return _run(lambda: get_site_info(**kwargs))


def _short(text: str, limit: int = 72) -> str:
    text = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _site_summary(site: dict[str, Any]) -> str:
    servers = []
    for server in site.get("servers", []):
        ports = ",".join(
            f"{i.get('protocol', '?').lower()}/{i.get('port')}"
            for i in server.get("interfaces", [])
        )
        servers.append(f"{server.get('address')} [{ports}]")
    head = f"site v{site.get('protocolVersion')} serial {site.get('serialNumber')}"
    return head + (": " + "; ".join(servers) if servers else "")


def format_data(value: HandleValue) -> str:
    """One line describing a value's data, by format."""
    fmt, data = value.data.format, value.data.value
    if fmt == "string" and isinstance(data, str):
        return _short(data)
    if fmt == "admin" and isinstance(data, dict):
        return f"admin {data.get('index')}:{data.get('handle')} perms={data.get('permissions')}"
    if fmt == "vlist" and isinstance(data, list):
        return "vlist " + ", ".join(f"{r.get('index')}:{r.get('handle')}" for r in data)
    if fmt == "site" and isinstance(data, dict):
        return _site_summary(data)
    return f"{fmt}:{_short(str(data), 64)}"


def format_record(handle: str, values: Sequence[HandleValue]) -> str:
    """A human-readable listing of a record, one value per line."""
    lines = [f"{handle} ({len(values)} value{'s' if len(values) != 1 else ''})"]
    rows = [
        (str(v.index), v.type, str(v.ttl), v.timestamp or "-", v.permissions, format_data(v))
        for v in sorted(values, key=lambda v: v.index)
    ]
    if rows:
        titles = ("index", "type", "ttl", "timestamp", "perm", "data")
        widths = [max(len(t), *(len(r[i]) for r in rows)) for i, t in enumerate(titles[:-1])]
        for row in (titles, *rows):
            cells = [cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)]
            lines.append("  " + "  ".join((*cells, row[-1])).rstrip())
    return "\n".join(lines)
