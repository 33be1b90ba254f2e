"""Recording real wire exchanges, and reading them back: a UDP+TCP relay and the format.

``CaptureProxy`` sits between a client (CNRI's hdllib, in test_hdllib_live.py) and the
wire server: every datagram and every TCP message either way is forwarded and recorded.
``save``/``load`` keep the records as bytes (tests/resolver/wire/fixtures/*.bin):

    b"IDNWIRE1", then per record: transport (b"U" UDP, b"T" TCP), direction (b"C" client
    to server, b"S" server to client), connection number (2 bytes; UDP: 0), length
    (4 bytes), the bytes (a datagram, or one whole TCP message with its envelope)

All numbers are big-endian. TCP messages are cut at envelope boundaries, so a record is
exactly one envelope and its message, as a peer would read it.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from pathlib import Path
from typing import Any, NamedTuple

MAGIC = b"IDNWIRE1"
_RECORD = struct.Struct(">ccHI")


class Record(NamedTuple):
    transport: str  # "U" or "T"
    direction: str  # "C" (client to server) or "S"
    conn: int
    data: bytes


def save(path: Path, records: list[Record]) -> None:
    parts = [MAGIC]
    for r in records:
        parts.append(_RECORD.pack(r.transport.encode(), r.direction.encode(), r.conn, len(r.data)))
        parts.append(r.data)
    path.write_bytes(b"".join(parts))


def load(path: Path) -> list[Record]:
    raw = path.read_bytes()
    assert raw.startswith(MAGIC), f"{path} is not a capture"
    out, at = [], len(MAGIC)
    while at < len(raw):
        transport, direction, conn, n = _RECORD.unpack_from(raw, at)
        at += _RECORD.size
        out.append(Record(transport.decode(), direction.decode(), conn, raw[at : at + n]))
        at += n
    return out


async def _read_message(reader: asyncio.StreamReader) -> bytes | None:
    try:
        head = await reader.readexactly(20)
    except asyncio.IncompleteReadError:
        return None
    (length,) = struct.unpack_from(">I", head, 16)
    try:
        return head + await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        return None


class CaptureProxy:
    """Relays UDP and TCP on ``port`` (127.0.0.1) to ``target``; keeps ``records``."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.records: list[Record] = []
        self.port = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._conns = 0
        self._upstream: dict[Any, asyncio.DatagramTransport] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, port: int) -> None:
        loop = asyncio.get_running_loop()
        proxy = self

        class Front(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: Any) -> None:
                proxy.records.append(Record("U", "C", 0, data))
                task = loop.create_task(proxy._forward(data, addr))
                proxy._tasks.add(task)
                task.add_done_callback(proxy._tasks.discard)

        self._udp, _ = await loop.create_datagram_endpoint(Front, local_addr=("127.0.0.1", port))  # type: ignore[assignment]
        self._tcp = await asyncio.start_server(self._stream, "127.0.0.1", port)
        self.port = port

    async def _forward(self, data: bytes, client: Any) -> None:
        up = self._upstream.get(client)
        if up is None:
            proxy = self

            class Back(asyncio.DatagramProtocol):
                def datagram_received(self, reply: bytes, addr: Any) -> None:
                    proxy.records.append(Record("U", "S", 0, reply))
                    if proxy._udp is not None:
                        proxy._udp.sendto(reply, client)

            loop = asyncio.get_running_loop()
            up, _ = await loop.create_datagram_endpoint(Back, remote_addr=self.target)  # type: ignore[assignment]
            self._upstream[client] = up
        up.sendto(data)

    async def _stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._conns += 1
        conn = self._conns
        up_reader, up_writer = await asyncio.open_connection(*self.target)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, who: str) -> None:
            while (message := await _read_message(src)) is not None:
                self.records.append(Record("T", who, conn, message))
                dst.write(message)
                await dst.drain()
            dst.close()

        try:
            await asyncio.gather(pipe(reader, up_writer, "C"), pipe(up_reader, writer, "S"))
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
            up_writer.close()

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        for up in self._upstream.values():
            up.close()
        if self._tcp is not None:
            self._tcp.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await self._tcp.wait_closed()
