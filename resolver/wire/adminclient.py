"""Authenticated wire requests (client side): send, answer the challenge, read the result.

Why: the tests, and anyone administering this node over the Handle protocol without
the Java tools, need to run CREATE_HANDLE … LIST_HANDLES with an HS_SECKEY or HS_PUBKEY
credential. The exchange is RFC 3652 §3.5 as CNRI's hdllib runs it: request → 402 with nonce,
request digest and a session id → the client closes the connection →
RESPONSE_TO_CHALLENGE on a new connection, with request id + 1 and that session id → the
request's answer. ``same_connection=True`` answers on the first connection with the same
request id instead (RFC-style clients; the server takes both).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from dataclasses import dataclass

from resolver.wire.bodies import Body, Challenge, challenge_answer_body, decode_body
from resolver.wire.client import Server
from resolver.wire.codec import Message, encode_request, parse_message
from resolver.wire.constants import CONT, DEFAULT_REQUEST_FLAGS, OpCode
from resolver.wire.framing import read_message
from resolver.wire.keys import PrivateKey, secret_answer, sign_answer
from resolver.wire.reader import ProtocolError


@dataclass(frozen=True)
class Credential:
    """``index:handle`` and a secret (HS_SECKEY) or an RSA/DSA private key (HS_PUBKEY);
    ``algorithm`` picks the signature (default SHA256withRSA / SHA1withDSA)."""

    handle: str
    index: int
    secret: bytes | None = None
    private_key: PrivateKey | None = None
    algorithm: bytes | None = None

    def answer(self, nonce: bytes, digest: bytes) -> tuple[str, bytes]:
        if self.private_key is not None:
            return "HS_PUBKEY", sign_answer(self.private_key, nonce, digest, self.algorithm)
        if self.secret is None:
            raise ValueError("a credential needs a secret or a private key")
        return "HS_SECKEY", secret_answer(self.secret, nonce, digest)


async def _replies(reader: asyncio.StreamReader, request_id: int) -> list[tuple[Message, Body]]:
    out: list[tuple[Message, Body]] = []
    while True:
        got = await read_message(reader)
        if got is None:
            raise ProtocolError("the server closed the connection before answering")
        if got[0].request_id != request_id:
            continue
        msg = parse_message(*got)
        body, _ = decode_body(msg)
        out.append((msg, body))
        if not msg.header.op_flags & CONT:
            return out


async def _open(server: Server) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(*server)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def request(
    opcode: int,
    body: bytes,
    credential: Credential | None,
    *,
    server: Server,
    op_flags: int = DEFAULT_REQUEST_FLAGS,
    timeout: float = 10.0,  # noqa: ASYNC109
    same_connection: bool = False,
) -> list[tuple[Message, Body]]:
    """Every message answering the request, after authenticating when challenged."""
    request_id = secrets.randbits(30) or 1
    async with asyncio.timeout(timeout):
        reader, writer = await _open(server)
        try:
            writer.write(encode_request(opcode, body, request_id=request_id, op_flags=op_flags))
            replies = await _replies(reader, request_id)
            first_msg, first_body = replies[0]
            if not isinstance(first_body, Challenge) or credential is None:
                return replies
            digest = first_msg.body[1 : 1 + {1: 16, 2: 20, 3: 32}[first_msg.body[0]]]
            auth_type, signature = credential.answer(first_body.nonce, digest)
            answer = challenge_answer_body(
                auth_type, credential.handle, credential.index, signature
            )
            session_id = first_msg.envelope.session_id
            if not same_connection:
                await _close(writer)
                reader, writer = await _open(server)
                request_id += 1
            writer.write(encode_request(OpCode.RESPONSE_TO_CHALLENGE, answer,
                                        request_id=request_id, session_id=session_id))  # fmt: skip
            return await _replies(reader, request_id)
        finally:
            await _close(writer)
