"""Exchanges captured from CNRI's hdllib (test_hdllib_live.py), replayed without Java.

The fixtures (tests/resolver/wire/fixtures/, format in hdllib_capture.py) are the bytes
hdllib sent and the bytes idnest answered when hdllib succeeded. These tests check
those answers the way hdllib reads them, check that idnest's key and answer code agrees
with what hdllib wrote, and replay hdllib's requests against a live server: the answers
must still come in the same shape (every datagram of a long UDP answer; the challenge
with a session id; the answer accepted on a new connection with request id + 1).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, rsa
from hdllib_capture import Record, load
from wire_server_helpers import (
    fixed_tenant,
    hdllib_reassemble,
    put,
    start_listener,
    udp_exchange,
)

from core.values import value_to_json
from resolver.wire import bodies, codec
from resolver.wire.constants import OpCode, ResponseCode
from resolver.wire.framing import read_message
from resolver.wire.keys import (
    check_secret_answer,
    check_signed_answer,
    decode_public_key,
    encode_public_key,
    secret_answer,
)

pytestmark = pytest.mark.anyio

FIXTURES = Path(__file__).parent / "fixtures"
META = json.loads((FIXTURES / "meta.json").read_text())
ADMIN = {"seckey": 300, "rsa": 301, "dsa": 302}


def records(name: str) -> list[Record]:
    return load(FIXTURES / f"{name}.bin")


def udp_parts(name: str) -> tuple[bytes, list[bytes]]:
    recs = [r for r in records(name) if r.transport == "U"]
    (request,) = [r.data for r in recs if r.direction == "C"]  # one request: no retry
    return request, [r.data for r in recs if r.direction == "S"]


def request_id(frame: bytes) -> int:
    return int(struct.unpack_from(">I", frame, 8)[0])


def tcp_messages(name: str) -> list[tuple[str, int, codec.Message]]:
    return [(r.direction, r.conn, codec.decode_message(r.data))
            for r in records(name) if r.transport == "T"]  # fmt: skip


def public_key(kind: str) -> Any:
    return decode_public_key((FIXTURES / f"{kind}.pub.bin").read_bytes())


def private_key(kind: str) -> Any:
    return serialization.load_der_private_key((FIXTURES / f"{kind}.pk8").read_bytes(), None)


def _digest_of(req: codec.Message, code: int) -> bytes:
    """The request digest, computed here: hdllib 2006 speaks protocol 2.1, so SHA-1 (2)."""
    assert (req.envelope.major, req.envelope.minor) == (2, 1) and code == 2
    return hashlib.sha1(req.signed).digest()


# --- what was captured -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "datagrams"),
    [("udp_resolve_2k", 5), ("udp_prefix_handle", 2), ("udp_site_info", 2)],
)
def test_captured_udp_answers_are_complete_multi_datagram_messages(name, datagrams):
    request, answer = udp_parts(name)
    assert len(answer) == datagrams
    msg = hdllib_reassemble(answer, request_id(request))
    assert msg.header.rc == ResponseCode.SUCCESS
    body, _ = bodies.decode_body(msg)
    if name == "udp_site_info":
        assert isinstance(body, bodies.SiteInfoResponse)
        server = body.site["servers"][0]
        assert server["address"] == "127.0.0.1"
        # hdllib's IPv4 form: 12 zero bytes, then the address (not ::ffff:127.0.0.1)
        assert bytes(12) + bytes((127, 0, 0, 1)) in msg.body
        import base64

        key = decode_public_key(base64.b64decode(server["publicKey"]["value"]))
        assert encode_public_key(key)[:15] == b"\x00\x00\x00\x0bRSA_PUB_KEY"
    else:
        assert isinstance(body, bodies.ResolutionResponse)


def test_the_public_keys_hdllib_wrote_are_read_and_written_byte_for_byte():
    assert isinstance(public_key("rsa"), rsa.RSAPublicKey)
    assert isinstance(public_key("dsa"), dsa.DSAPublicKey)
    for kind in ("rsa", "dsa"):
        raw = (FIXTURES / f"{kind}.pub.bin").read_bytes()
        assert encode_public_key(decode_public_key(raw)) == raw


@pytest.mark.parametrize("kind", ["seckey", "rsa", "dsa", "cross_tenant"])
def test_captured_challenge_on_a_new_connection_with_session_id(kind):
    (d1, c1, req), (d2, c2, challenge), (d3, c3, answer), (d4, c4, final) = tcp_messages(
        f"tcp_admin_{kind}"
    )
    assert (d1, d2, d3, d4) == ("C", "S", "C", "S")
    assert c1 == c2 and c3 == c4 and c3 != c1  # hdllib answered on a new connection
    assert req.header.opcode == OpCode.CREATE_HANDLE and req.envelope.session_id == 0
    assert challenge.header.rc == ResponseCode.AUTHENTICATION_NEEDED
    session = challenge.envelope.session_id
    assert session != 0 and challenge.envelope.request_id == req.envelope.request_id
    assert answer.header.opcode == OpCode.RESPONSE_TO_CHALLENGE
    assert answer.envelope.session_id == session
    assert answer.envelope.request_id == req.envelope.request_id + 1
    assert final.envelope.request_id == answer.envelope.request_id
    expected = ResponseCode.INSUFFICIENT_PERMISSIONS if kind == "cross_tenant" else 1
    assert final.header.rc == expected
    # the challenge's digest is over hdllib's request, and hdllib's answer checks out
    nonce_body, digest = bodies.decode_body(challenge)
    assert isinstance(nonce_body, bodies.Challenge) and digest is not None
    assert digest.digest == _digest_of(req, digest.code)
    got, _ = bodies.decode_body(answer)
    assert isinstance(got, bodies.ChallengeAnswer)
    if kind in ("seckey", "cross_tenant"):
        assert check_secret_answer(META["secret_a"].encode(), nonce_body.nonce, digest.digest,
                                   got.signature)  # fmt: skip
    else:
        assert check_signed_answer(public_key(kind), nonce_body.nonce, digest.digest,
                                   got.signature)  # fmt: skip


# --- replayed against the server ---------------------------------------------------------


@pytest.fixture
async def wire(app: Any, client: Any, settings: Any) -> Any:
    listener, port = await start_listener(app, settings)
    yield ("127.0.0.1", port)
    await listener.stop()


@pytest.fixture
async def tenants(client: Any) -> Any:
    a = await fixed_tenant(META["code_a"], "hdllib A")
    b = await fixed_tenant(META["code_b"], "hdllib B")
    await put(client, a, f"{a.prefix}/admin", [
        {"index": 300, "type": "HS_SECKEY", "data": META["secret_a"]},
        *({"index": ADMIN[k], "type": "HS_PUBKEY", "data": {"format": "hex",
           "value": (FIXTURES / f"{k}.pub.bin").read_bytes().hex()}} for k in ("rsa", "dsa")),
    ])  # fmt: skip
    await put(client, b, f"{b.prefix}/admin", [
        {"index": 300, "type": "HS_SECKEY", "data": META["secret_b"]},
    ])  # fmt: skip
    for h in META["created"].values():
        owner = a if h.startswith(a.prefix + "/") else b
        await client.delete(f"/api/handles/{h}", headers=owner.auth())
    return a, b


async def test_replayed_udp_requests_get_whole_multi_datagram_answers(client, tenants, wire):
    a, _ = tenants
    request, captured = udp_parts("udp_resolve_2k")
    old = bodies.decode_body(hdllib_reassemble(captured, request_id(request)))[0]
    assert isinstance(old, bodies.ResolutionResponse)
    urls = [value_to_json(v) for v in old.values if v.type == "URL"]
    await put(client, a, META["big_handle"], [{k: v[k] for k in ("index", "type", "data")}
                                             for v in urls])  # fmt: skip
    answer = await udp_exchange(wire[1], [request], 5, expect=len(captured) + 1)
    new = bodies.decode_body(hdllib_reassemble(answer, request_id(request)))[0]
    assert isinstance(new, bodies.ResolutionResponse)
    assert len(answer) == len(captured)
    assert [(v.index, v.type, v.data) for v in new.values if v.type == "URL"] == [
        (v.index, v.type, v.data) for v in old.values if v.type == "URL"
    ]
    for name in ("udp_prefix_handle", "udp_site_info"):
        request, captured = udp_parts(name)
        answer = await udp_exchange(wire[1], [request], 5, expect=len(captured) + 1)
        assert len(answer) == len(captured)
        assert hdllib_reassemble(answer, request_id(request)).header.rc == 1


async def _exchange(server: Any, frame: bytes) -> codec.Message:
    reader, writer = await asyncio.open_connection(*server)
    try:
        writer.write(frame)
        got = await asyncio.wait_for(read_message(reader), 5)
        assert got is not None
        return codec.parse_message(*got)
    finally:  # hdllib closes the connection after each answer
        writer.close()


def _signature(kind: str, nonce: bytes, digest: bytes, captured: bytes) -> bytes:
    """A fresh answer in the form hdllib wrote ``captured`` (its algorithm name kept)."""
    if kind in ("seckey", "cross_tenant"):
        return secret_answer(META["secret_a"].encode(), nonce, digest, captured[0])
    (n,) = struct.unpack_from(">I", captured)
    name = captured[4 : 4 + n]  # SHA1withRSA, or a bare SHA1 for DSA
    key = private_key(kind)
    if isinstance(key, rsa.RSAPrivateKey):
        from cryptography.hazmat.primitives.asymmetric import padding

        sig = key.sign(nonce + digest, padding.PKCS1v15(), hashes.SHA1())
    else:
        sig = key.sign(nonce + digest, hashes.SHA1())
    return struct.pack(">I", len(name)) + name + struct.pack(">I", len(sig)) + sig


def _answer_frame(answer: codec.Message, session_id: int, signature: bytes) -> bytes:
    """hdllib's RESPONSE_TO_CHALLENGE rebuilt with a new session id and signature."""
    got, _ = bodies.decode_body(answer)
    assert isinstance(got, bodies.ChallengeAnswer)
    env, hdr = answer.envelope, answer.header

    def frame(session: int, sig: bytes) -> bytes:
        body = bodies.challenge_answer_body(got.auth_type, got.handle, got.index, sig)
        return codec.encode_request(
            hdr.opcode, body, request_id=env.request_id, op_flags=hdr.op_flags,
            session_id=session, version=(env.major, env.minor), site_serial=hdr.site_serial,
            recursion=hdr.recursion, expiration=hdr.expiration,
        )  # fmt: skip

    # the rebuild is faithful: with the captured values it gives hdllib's very bytes
    assert frame(env.session_id, got.signature)[20:] == answer.frame[answer.start :]
    return frame(session_id, signature)


@pytest.mark.parametrize("kind", ["seckey", "rsa", "dsa", "cross_tenant"])
async def test_replayed_admin_exchange(client, tenants, wire, kind):
    (_, _, req), _, (_, _, answer), _ = tcp_messages(f"tcp_admin_{kind}")
    handle = bodies.decode_body(req)[0].handle.decode()  # type: ignore[union-attr]
    challenge = await _exchange(wire, req.frame[req.start - 20 :])
    assert challenge.header.rc == ResponseCode.AUTHENTICATION_NEEDED
    session = challenge.envelope.session_id
    assert session != 0 and challenge.envelope.request_id == req.envelope.request_id
    nonce_body, digest = bodies.decode_body(challenge)
    assert isinstance(nonce_body, bodies.Challenge) and digest is not None
    assert digest.digest == _digest_of(req, digest.code)
    got, _ = bodies.decode_body(answer)
    assert isinstance(got, bodies.ChallengeAnswer)
    frame = _answer_frame(answer, session, _signature(kind, nonce_body.nonce, digest.digest,
                                                      got.signature))  # fmt: skip
    final = await _exchange(wire, frame)  # a new connection, request id + 1
    assert final.envelope.request_id == req.envelope.request_id + 1
    r = await client.get(f"/api/handles/{handle}")
    if kind == "cross_tenant":  # A's credentials on B's prefix
        assert final.header.rc == ResponseCode.INSUFFICIENT_PERMISSIONS
        assert r.status_code == 404
    else:
        assert final.header.rc == ResponseCode.SUCCESS
        assert r.status_code == 200 and f"https://hdllib.example/{kind}" in r.text
    # one use: the same answer again finds no challenge
    again = await _exchange(wire, frame)
    assert again.header.rc == ResponseCode.AUTHEN_ERROR
