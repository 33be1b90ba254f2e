"""A trivial Python + uvloop UDP responder: the ceiling the wire server is measured against.

It answers every datagram with one constant 500-byte datagram: a well-formed Handle
RESOLUTION response (envelope, header, a body with one padding value, empty credential)
whose request id is copied from the request, so ``udpload`` can match it and a Handle
client could even parse it. It does no decoding, look-up or encoding, so its throughput is
what the event loop and the kernel allow, and the gap between it and the real wire server
is the cost of our code.

    python bench/loadgen/trivial_udp.py --port 2641 [--processes N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import socket
import struct

import uvloop

REPLY_SIZE = 500


def reply_template(size: int = REPLY_SIZE) -> tuple[bytes, bytes]:
    """The constant reply split around the request id (envelope bytes 8..12)."""
    handle = b"0.NA/TRIVIAL"
    fixed_value = 14 + 4 + 3 + 4 + 4  # head, "PAD" type, data length, no references
    body_length = size - 20 - 24 - 4
    pad = body_length - (4 + len(handle) + 4 + fixed_value)
    value = (
        struct.pack(">iIBiB", 1, 0, 0, 86400, 0x0E)
        + struct.pack(">I", 3) + b"PAD"
        + struct.pack(">I", pad) + b"x" * pad
        + struct.pack(">I", 0)
    )  # fmt: skip
    body = struct.pack(">I", len(handle)) + handle + struct.pack(">I", 1) + value
    envelope = struct.pack(">BBBBIIII", 2, 10, 2, 10, 0, 0, 0, size - 20)
    header = struct.pack(">IIIHBBII", 1, 1, 0, 0, 0, 0, 0, len(body))
    reply = envelope + header + body + struct.pack(">I", 0)
    assert len(reply) == size
    return reply[:8], reply[12:]


HEAD, TAIL = reply_template()


class Responder(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.DatagramTransport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) >= 12:
            self.transport.sendto(HEAD + data[8:12] + TAIL, addr)


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    sock.bind((host, port))
    await loop.create_datagram_endpoint(Responder, sock=sock)
    await asyncio.Event().wait()


def run(host: str, port: int) -> None:
    uvloop.run(serve(host, port))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2641)
    parser.add_argument("--processes", type=int, default=1, help="SO_REUSEPORT workers")
    args = parser.parse_args()
    workers = [
        multiprocessing.Process(target=run, args=(args.host, args.port), daemon=True)
        for _ in range(args.processes - 1)
    ]
    for worker in workers:
        worker.start()
    with contextlib.suppress(KeyboardInterrupt):
        run(args.host, args.port)


if __name__ == "__main__":
    main()
