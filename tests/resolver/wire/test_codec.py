"""The Handle wire codec against hand-built RFC 3652 bytes, plus framing and the client.

Expected bytes are written with explicit ``struct.pack`` calls and hex literals from the
RFC layouts, never by calling the encoder under test.
"""

from __future__ import annotations

import asyncio
import calendar
import hashlib
import struct
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import cast

import pytest

from core.values import HandleValue, Reference, ValueData, parse_values
from resolver.wire import bodies, codec
from resolver.wire.bodies import (
    Challenge,
    ChallengeAnswer,
    ErrorResponse,
    HandleRequest,
    ListHandlesResponse,
    LoginRequest,
    RemoveValueRequest,
    RequestDigest,
    ResolutionRequest,
    ResolutionResponse,
    SiteInfoResponse,
    Success,
    ValuesRequest,
    VerifyChallengeRequest,
    VerifyChallengeResponse,
    decode_body,
    decode_request,
)
from resolver.wire.client import (
    Transport,
    exchange,
    format_record,
    list_handles,
    resolve,
    resolve_sync,
)
from resolver.wire.codec import OpCode, ProtocolError, ResponseCode
from resolver.wire.framing import Reassembler, read_message, split_for_udp
from resolver.wire.site import decode_site, encode_site
from resolver.wire.values import (
    data_bytes,
    decode_value_bytes,
    encode_value,
    encode_values,
    timestamp_seconds,
)

TS = "2026-01-02T03:04:05Z"
TS_SECONDS = calendar.timegm((2026, 1, 2, 3, 4, 5))
EXP = 0x6A000000


def u32(n: int) -> bytes:
    return struct.pack(">I", n)


def i32(n: int) -> bytes:
    return struct.pack(">i", n)


def blob(raw: bytes) -> bytes:
    return u32(len(raw)) + raw


def envelope(length: int, *, request_id: int = 1, flags: int = 0, seq: int = 0) -> bytes:
    # major 2, minor 10, flags | suggested major 2, suggested minor 10, session 0
    return struct.pack(">BBBBIIII", 2, 10, flags | 2, 10, 0, request_id, seq, length)


def header(opcode: int, rc: int, flags: int, body_length: int, *, serial: int = 0) -> bytes:
    return struct.pack(">IIIHBBII", opcode, rc, flags, serial, 0, 0, EXP, body_length)


def frame(opcode: int, rc: int, flags: int, body: bytes, *, request_id: int = 1) -> bytes:
    message = header(opcode, rc, flags, len(body), serial=0xFFFF if rc == 0 else 0) + body
    return envelope(len(message) + 4, request_id=request_id) + message + u32(0)


def request(opcode: int, body: bytes, flags: int = 0x19000000) -> codec.Message:
    return codec.decode_message(frame(opcode, 0, flags, body))


def url_value(index: int = 1, text: str = "https://a.example/") -> HandleValue:
    return HandleValue(index, "URL", ValueData("string", text), 86400, TS, "1110")


def wire_url_value(index: int = 1, text: bytes = b"https://a.example/") -> bytes:
    head = struct.pack(">iIBiB", index, TS_SECONDS, 0, 86400, 0x0E)
    return head + blob(b"URL") + blob(text) + u32(0)


# --- requests ------------------------------------------------------------------------


def test_resolution_request_is_byte_exact() -> None:
    expected = bytes.fromhex(
        "020a020a" "00000000" "01020304" "00000000" "00000032"  # envelope, length 50
        "00000001" "00000000" "19000000" "ffff" "00" "00" "6a000000" "00000016"  # header
        "0000000a" "38382e3130302e372f58" "00000000" "00000000"  # handle, no indices/types
        "00000000"  # no credential
    )  # fmt: skip
    body = bodies.resolution_request_body("88.100.7/X")
    got = codec.encode_request(OpCode.RESOLUTION, body, request_id=0x01020304, expiration=EXP)
    assert got == expected


def test_resolution_request_with_filters_decodes_from_hand_built_bytes() -> None:
    body = (
        blob(b"88.100.7/X") + u32(2) + i32(1) + i32(100) + u32(2) + blob(b"URL") + blob(b"10320.")
    )
    msg, parsed = decode_request(frame(OpCode.RESOLUTION, 0, 0x19000000, body, request_id=9))
    assert parsed == ResolutionRequest(b"88.100.7/X", (1, 100), (b"URL", b"10320."))
    assert msg.envelope.request_id == 9
    assert (msg.header.opcode, msg.header.op_flags, msg.header.site_serial) == (
        1,
        0x19000000,
        0xFFFF,
    )
    assert bodies.resolution_request_body("88.100.7/X", [1, 100], ["URL", "10320."]) == body


@pytest.mark.parametrize(
    ("opcode", "body", "expected"),
    [
        (OpCode.GET_SITE_INFO, blob(b""), HandleRequest(b"")),
        (OpCode.GET_SITE_INFO, b"", HandleRequest(b"")),
        (OpCode.DELETE_HANDLE, blob(b"88.100.7/X"), HandleRequest(b"88.100.7/X")),
        (OpCode.LIST_HANDLES, blob(b"0.NA/88.100.7"), HandleRequest(b"0.NA/88.100.7")),
        (OpCode.REMOVE_VALUE, blob(b"88.100.7/X") + u32(2) + i32(2) + i32(3),
         RemoveValueRequest(b"88.100.7/X", (2, 3))),
        (OpCode.CREATE_HANDLE, blob(b"88.100.7/X") + u32(1) + wire_url_value(),
         ValuesRequest(b"88.100.7/X", (url_value(),))),
        (OpCode.ADD_VALUE, blob(b"a/b") + u32(2) + wire_url_value(1) + wire_url_value(2, b"x"),
         ValuesRequest(b"a/b", (url_value(1), url_value(2, "x")))),
        (OpCode.MODIFY_VALUE, blob(b"a/b") + u32(0), ValuesRequest(b"a/b", ())),
        (OpCode.RESPONSE_TO_CHALLENGE,
         blob(b"HS_SECKEY") + blob(b"88.100.7/admin") + i32(300) + blob(b"\x13sig"),
         ChallengeAnswer(b"HS_SECKEY", b"88.100.7/admin", 300, b"\x13sig")),
        (OpCode.VERIFY_CHALLENGE,
         blob(b"88.100.7/admin") + i32(300) + blob(b"n" * 16) + b"\x02" + b"d" * 20 + blob(b"s"),
         VerifyChallengeRequest(
             b"88.100.7/admin", 300, b"n" * 16, RequestDigest(2, b"d" * 20), b"s"
         )),
        (OpCode.LOGIN_IDIS, blob(b"88.100.7/admin") + i32(300),
         LoginRequest(b"88.100.7/admin", 300)),
    ],
)  # fmt: skip
def test_request_bodies_decode(opcode: int, body: bytes, expected: object) -> None:
    assert decode_body(request(opcode, body)) == (expected, None)


def test_request_body_builders_match_the_layouts() -> None:
    assert bodies.handle_body("0.NA/88.100.7") == blob(b"0.NA/88.100.7")
    assert bodies.remove_value_body("a/b", [2, 3]) == blob(b"a/b") + u32(2) + i32(2) + i32(3)
    assert bodies.values_body("a/b", [url_value()]) == blob(b"a/b") + u32(1) + wire_url_value()
    assert bodies.challenge_answer_body("HS_PUBKEY", "a/b", 300, b"sig") == (
        blob(b"HS_PUBKEY") + blob(b"a/b") + i32(300) + blob(b"sig")
    )
    digest = RequestDigest(3, b"d" * 32)
    assert bodies.verify_challenge_body("a/b", 300, b"n", digest, b"s") == (
        blob(b"a/b") + i32(300) + blob(b"n") + b"\x03" + b"d" * 32 + blob(b"s")
    )
    assert bodies.login_body("a/b", 7) == blob(b"a/b") + i32(7)


# --- responses -----------------------------------------------------------------------


def test_resolution_response_splices_cached_values_byte_exact() -> None:
    req = request(OpCode.RESOLUTION, blob(b"88.100.7/X") + u32(0) + u32(0), flags=0x19000000)
    values_block = encode_values([url_value()])
    assert values_block == u32(1) + wire_url_value()
    got = codec.encode_resolution_response(
        req.envelope, req.header, b"88.100.7/X", values_block, expiration=EXP
    )
    body = blob(b"88.100.7/X") + u32(1) + wire_url_value()
    # PUBL and CACR are repeated from the request; RECU is not.
    message = header(1, 1, 0x09000000, len(body)) + body + u32(0)
    assert got == envelope(len(message)) + message
    assert decode_body(codec.decode_message(got)) == (
        ResolutionResponse(b"88.100.7/X", (url_value(),)),
        None,
    )


def test_request_digest_leads_the_body_when_asked() -> None:
    req = request(OpCode.RESOLUTION, blob(b"a/b") + u32(0) + u32(0), flags=0x00800000)
    digest = codec.request_digest(req)
    signed = req.frame[20 : 20 + 24 + 15]  # header + body (handle 4+3, two empty lists)
    assert digest == b"\x03" + hashlib.sha256(signed).digest()
    got = codec.encode_resolution_response(req.envelope, req.header, b"a/b", u32(0), digest=digest)
    assert struct.unpack_from(">I", got, 28)[0] == 0x00800000
    assert got[44 : 44 + 33] == digest
    msg = codec.decode_message(got)
    assert decode_body(msg) == (ResolutionResponse(b"a/b", ()), RequestDigest(3, digest[1:]))


def test_error_response_layout() -> None:
    req = request(OpCode.RESOLUTION, blob(b"a/b") + u32(0) + u32(0), flags=0)
    got = codec.encode_error_response(
        req.envelope, req.header, ResponseCode.HANDLE_NOT_FOUND, "handle not found", expiration=EXP
    )
    body = blob(b"handle not found")
    message = header(1, 100, 0, len(body)) + body + u32(0)
    assert got == envelope(len(message)) + message
    with_indices = codec.encode_error_response(
        req.envelope, req.header, ResponseCode.VALUES_NOT_FOUND, "no", indices=[2, 5]
    )
    assert decode_body(codec.decode_message(with_indices))[0] == ErrorResponse("no", (2, 5))


def test_challenge_carries_digest_then_nonce() -> None:
    req = request(OpCode.CREATE_HANDLE, blob(b"a/b") + u32(0), flags=0)
    digest = codec.request_digest(req)
    nonce = bytes(range(16))
    got = codec.encode_challenge(req.envelope, req.header, nonce, digest, expiration=EXP)
    body = digest + blob(nonce)
    message = header(100, 402, 0x00800000, len(body)) + body + u32(0)
    assert got == envelope(len(message)) + message
    assert decode_body(codec.decode_message(got)) == (
        Challenge(nonce),
        RequestDigest(3, digest[1:]),
    )


def test_other_responses_round_trip() -> None:
    req = request(OpCode.LIST_HANDLES, blob(b"0.NA/88.100.7"), flags=0)
    part = codec.encode_list_handles_response(req.envelope, req.header, [b"a/1", b"a/2"], more=True)
    msg = codec.decode_message(part)
    assert msg.header.op_flags & 0x04000000
    assert msg.body == u32(2) + blob(b"a/1") + blob(b"a/2")
    assert decode_body(msg)[0] == ListHandlesResponse((b"a/1", b"a/2"))
    verify = request(OpCode.VERIFY_CHALLENGE, b"", flags=0)
    ok = codec.encode_verify_challenge_response(verify.envelope, verify.header, True)
    assert codec.decode_message(ok).body == b"\x01"
    assert decode_body(codec.decode_message(ok))[0] == VerifyChallengeResponse(True)
    create = request(OpCode.CREATE_HANDLE, blob(b"a/") + u32(0), flags=0x00200000)
    minted = codec.encode_success(create.envelope, create.header, handle=b"a/123")
    assert decode_body(codec.decode_message(minted))[0] == Success(b"a/123")


def test_site_info_round_trip_and_layout() -> None:
    site = {
        "version": 1, "protocolVersion": "2.10", "serialNumber": 3, "primaryMask": 0x80,
        "hashOption": 0, "hashFilter": "", "attributes": [{"name": "desc", "value": "node"}],
        "servers": [{
            "serverId": 1, "address": "192.0.2.1",
            "publicKey": {"format": "key", "value": "AAEC"},
            "interfaces": [
                {"query": True, "admin": False, "protocol": "UDP", "port": 2641},
                {"query": True, "admin": True, "protocol": "TCP", "port": 2641},
            ],
        }],
    }  # fmt: skip
    expected = (
        struct.pack(">HBBHBB", 1, 2, 10, 3, 0x80, 0) + blob(b"")
        + u32(1) + blob(b"desc") + blob(b"node")
        + u32(1) + i32(1) + bytes(12) + bytes((192, 0, 2, 1)) + blob(b"\x00\x01\x02")
        + u32(2) + bytes((2, 0)) + i32(2641) + bytes((3, 1)) + i32(2641)
    )  # fmt: skip
    assert encode_site(site) == expected
    assert decode_site(expected) == site
    # IPv4 goes out as hdllib writes it, 12 zero bytes + the address (checked above); the
    # ::ffff: mapped form that idnest once wrote is still read as IPv4.
    mapped_style = expected.replace(bytes(12) + bytes((192,)), bytes(10) + b"\xff\xff\xc0")
    assert decode_site(mapped_style)["servers"][0]["address"] == "192.0.2.1"
    v6 = dict(site, servers=[dict(site["servers"][0], address="2001:db8::1")])  # type: ignore[call-overload]
    assert decode_site(encode_site(v6)) == v6
    req = request(OpCode.GET_SITE_INFO, blob(b""), flags=0)
    answer = codec.encode_site_info_response(req.envelope, req.header, expected)
    assert decode_body(codec.decode_message(answer))[0] == SiteInfoResponse(site)


# --- values --------------------------------------------------------------------------


def test_value_layout_with_references_and_permissions() -> None:
    value = HandleValue(
        7, "EMAIL", ValueData("string", "ops@example.cn"), 3600, TS, "1111",
        (Reference("88.100.7/a", 1), Reference("88.100.7/b", 2)),
    )  # fmt: skip
    expected = (
        struct.pack(">iIBiB", 7, TS_SECONDS, 0, 3600, 0x0F)
        + blob(b"EMAIL") + blob(b"ops@example.cn")
        + u32(2) + blob(b"88.100.7/a") + i32(1) + blob(b"88.100.7/b") + i32(2)
    )  # fmt: skip
    assert encode_value(value) == expected
    assert decode_value_bytes(expected) == value


def test_admin_and_vlist_data_layouts() -> None:
    admin = ValueData(
        "admin", {"handle": "0.NA/88.100.7", "index": 200, "permissions": "011111110011"}
    )
    assert data_bytes(admin) == struct.pack(">H", 0x7F3) + blob(b"0.NA/88.100.7") + i32(200)
    vlist = ValueData(
        "vlist", [{"handle": "88.100.7/a", "index": 300}, {"handle": "b/c", "index": 1}]
    )
    assert data_bytes(vlist) == u32(2) + blob(b"88.100.7/a") + i32(300) + blob(b"b/c") + i32(1)


RAW_VALUES = [
    {"index": 1, "type": "URL", "data": "https://example.com/产品/1"},
    {"index": 2, "type": "BLOB", "data": {"format": "base64", "value": "AP8Q/w=="}},
    {"index": 3, "type": "HS_PUBKEY", "data": {"format": "key", "value": "AAAAB0RTQV9QVUJfS0VZ"}},
    {"index": 100, "type": "HS_ADMIN",
     "data": {"format": "admin", "value": {"handle": "0.NA/88.100.7", "index": "200"}}},
    {"index": 4, "type": "HS_VLIST",
     "data": {"format": "vlist", "value": [{"handle": "88.100.7/admins", "index": 300}]}},
    {"index": 5, "type": "HS_SITE", "data": {"format": "site", "value": {
        "version": 1, "protocolVersion": "2.10", "serialNumber": 1, "primaryMask": 0x80,
        "hashOption": 0, "hashFilter": "", "attributes": [],
        "servers": [{
            "serverId": 1, "address": "10.0.0.1", "publicKey": {"format": "key", "value": ""},
            "interfaces": [{"query": True, "admin": True, "protocol": "HTTPS", "port": 443}],
        }]}}},
    {"index": 6, "type": "HS_SECKEY", "data": "s3cret", "permissions": "1100"},
]  # fmt: skip


@pytest.mark.parametrize("raw", RAW_VALUES, ids=lambda r: str(r["type"]))
def test_every_format_round_trips(raw: dict[str, object]) -> None:
    (value,) = parse_values([raw], timestamp=TS)
    assert decode_value_bytes(encode_value(value)) == value


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (ValueData("hex", "00ff10"), ValueData("base64", "AP8Q")),
        (ValueData("hex", "414243"), ValueData("string", "ABC")),
        (ValueData("base64", "QUJD"), ValueData("string", "ABC")),
    ],
)
def test_formats_without_a_wire_marker_keep_their_bytes(
    data: ValueData, expected: ValueData
) -> None:
    value = HandleValue(1, "DATA", data, 60, TS)
    decoded = decode_value_bytes(encode_value(value))
    assert decoded.data == expected
    assert data_bytes(decoded.data) == data_bytes(data)


def test_structured_type_with_foreign_bytes_falls_back() -> None:
    odd = (
        struct.pack(">iIBiB", 100, 0, 0, 60, 0x0E) + blob(b"HS_ADMIN") + blob(b"\xff\x00") + u32(0)
    )
    assert decode_value_bytes(odd).data == ValueData("base64", "/wA=")
    assert decode_value_bytes(odd).timestamp == "1970-01-01T00:00:00Z"


def test_timestamps() -> None:
    assert timestamp_seconds(TS) == TS_SECONDS
    assert timestamp_seconds("") == timestamp_seconds("garbage") == 0


def test_encoding_refuses_bad_site_data_with_a_clear_message() -> None:
    bad = HandleValue(
        1, "HS_SITE", ValueData("site", {"servers": [{"address": "nowhere"}]}), 60, TS
    )
    with pytest.raises(codec.EncodeError, match="address"):
        encode_value(bad)


# --- robustness ----------------------------------------------------------------------


def valid_frames() -> list[bytes]:
    values = encode_values(parse_values(RAW_VALUES, timestamp=TS))
    req = request(OpCode.RESOLUTION, blob(b"a/b") + u32(0) + u32(0), flags=0x00800000)
    env, hdr = req.envelope, req.header
    return [
        frame(OpCode.RESOLUTION, 0, 0, blob(b"a/b") + u32(1) + i32(1) + u32(1) + blob(b"URL")),
        frame(OpCode.CREATE_HANDLE, 0, 0, blob(b"a/b") + values),
        codec.encode_resolution_response(
            env, hdr, b"a/b", values, digest=codec.request_digest(req)
        ),
        codec.encode_error_response(env, hdr, 100, "not found", indices=[1]),
        codec.encode_challenge(env, hdr, b"n" * 16, codec.request_digest(req)),
    ]


def test_every_truncation_is_a_protocol_error() -> None:
    for good in valid_frames():
        codec.decode_message(good)
        for cut in range(len(good)):
            with pytest.raises(ProtocolError):
                decode_body(codec.decode_message(good[:cut]))


def test_oversized_and_inconsistent_messages() -> None:
    good = frame(OpCode.RESOLUTION, 0, 0, blob(b"a/b") + u32(0) + u32(0))
    cases: dict[str, Callable[[bytes], bytes]] = {
        "length over max": lambda f: f[:16] + u32(262145) + f[20:],
        "body over message": lambda f: f[:40] + u32(1000) + f[44:],
        "credential mismatch": lambda f: f[:-4] + u32(5),
        "stray bytes": lambda f: f[:16] + u32(len(f) - 18) + f[20:] + b"\x00\x00",
        "handle over 2048": lambda f: f[:44] + u32(2049) + f[48:],
        "trailing body bytes": lambda f: f[:16] + u32(len(f) - 20 + 1) + f[20:40]
        + u32(struct.unpack(">I", f[40:44])[0] + 1) + f[44:-4] + b"\x00" + u32(0),
    }  # fmt: skip
    for name, mutate in cases.items():
        with pytest.raises(ProtocolError):
            decode_request(mutate(good))
            pytest.fail(name)


def test_unsupported_things_say_operation_not_supported() -> None:
    good = frame(OpCode.RESOLUTION, 0, 0, blob(b"a/b") + u32(0) + u32(0))
    encrypted = good[:2] + bytes((good[2] | 0x40,)) + good[3:]
    with pytest.raises(ProtocolError) as err:
        decode_request(encrypted)
    assert err.value.rc == 5
    with pytest.raises(ProtocolError) as err:
        decode_request(frame(OpCode.SESSION_SETUP, 0, 0, b""))
    assert err.value.rc == 5
    with pytest.raises(ProtocolError):
        decode_request(frame(OpCode.RESOLUTION, 1, 0, blob(b"a/b") + u32(0)))  # a response


def test_protocol_errors_get_an_answer_only_when_addressable() -> None:
    good = frame(OpCode.RESOLUTION, 0, 0x01000000, blob(b"a/b") + u32(0) + u32(0), request_id=77)
    broken = good[:44] + u32(5000) + good[48:]  # handle longer than the body
    with pytest.raises(ProtocolError) as err:
        decode_request(broken)
    reply = codec.encode_protocol_error(broken, err.value)
    assert reply is not None
    msg = codec.decode_message(reply)
    assert (msg.envelope.request_id, msg.header.rc, msg.header.op_flags) == (77, 4, 0x01000000)
    assert decode_body(msg)[0] == ErrorResponse(err.value.message)
    response = frame(OpCode.RESOLUTION, 1, 0, b"\xff")
    assert codec.encode_protocol_error(response, err.value) is None  # never answer answers
    assert codec.encode_protocol_error(good[:30], err.value) is None


def test_huge_claimed_lengths_do_not_allocate() -> None:
    claims = [
        blob(b"a/b") + u32(2**31) + i32(1),  # index count
        blob(b"a/b") + u32(0) + u32(0xFFFFFFFF),  # type count
        u32(0x7FFFFFFF) + b"a/b",  # handle length
    ]
    tracemalloc.start()
    try:
        for body in claims:
            with pytest.raises(ProtocolError):
                decode_request(frame(OpCode.RESOLUTION, 0, 0, body))
        with pytest.raises(ProtocolError):
            decode_request(frame(OpCode.CREATE_HANDLE, 0, 0, blob(b"a/b") + u32(2**31 - 1)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 256 * 1024


def test_request_lists_are_capped() -> None:
    many_types = blob(b"a/b") + u32(0) + u32(2049) + u32(0) * 2049
    with pytest.raises(ProtocolError, match="limit is 2048"):
        decode_request(frame(OpCode.RESOLUTION, 0, 0, many_types))
    many_indices = blob(b"a/b") + u32(2049) + i32(1) * 2049
    with pytest.raises(ProtocolError, match="limit is 2048"):
        decode_request(frame(OpCode.REMOVE_VALUE, 0, 0, many_indices))
    enough = blob(b"a/b") + u32(0) + u32(2048) + u32(0) * 2048
    assert len(decode_body(request(OpCode.RESOLUTION, enough))[0].types) == 2048  # type: ignore[union-attr]


def test_encode_errors_name_the_problem() -> None:
    with pytest.raises(codec.EncodeError, match="permissions"):
        encode_value(HandleValue(1, "URL", ValueData("string", "x"), 60, TS, "11"))
    with pytest.raises(codec.EncodeError, match="protocol"):
        encode_site({"servers": [{"address": "::1", "interfaces": [{"protocol": "SCTP"}]}]})
    with pytest.raises(codec.EncodeError, match="unknown data format"):
        data_bytes(ValueData("xml", "<a/>"))
    assert encode_site({"primarySite": True, "multiPrimary": True})[6] == 0xC0


def test_fast_path_equals_general_path() -> None:
    for handle in (b"", b"a/b", "88.100.7/泵-1".encode(), b"x" * 2048):
        good = frame(OpCode.RESOLUTION, 0, 0x19000000, blob(handle) + u32(0) + u32(0))
        fast = decode_request(good)
        slow = codec.decode_message(good)
        assert fast == (slow, decode_body(slow)[0])


# --- framing -------------------------------------------------------------------------


def big_response() -> bytes:
    values = [url_value(i, "https://example.com/" + "p" * 100) for i in range(1, 21)]
    req = request(OpCode.RESOLUTION, blob(b"a/b") + u32(0) + u32(0), flags=0)
    return codec.encode_resolution_response(req.envelope, req.header, b"a/b", encode_values(values))


def test_udp_split_and_reassembly_in_any_order() -> None:
    whole = big_response()
    packets = split_for_udp(whole)
    assert len(packets) == -(-(len(whole) - 20) // 492) and all(len(p) <= 512 for p in packets)
    for seq, packet in enumerate(packets):
        assert packet[2] & 0x20 and struct.unpack_from(">II", packet, 12) == (seq, len(whole) - 20)
    assembler = Reassembler()
    assert assembler.feed("peer", packets[1]) is None
    assert assembler.feed("peer", packets[1]) is None  # a duplicate changes nothing
    results = [assembler.feed("peer", p) for p in [packets[0], *reversed(packets[2:])]]
    assert results[:-1] == [None] * (len(packets) - 2)
    assert results[-1] == (codec.decode_envelope(whole), whole[20:])
    assert assembler.pending == 0 and assembler.buffered_bytes == 0
    assert split_for_udp(whole, max_packets=2) == packets[:1]


def test_reassembler_is_bounded() -> None:
    clock = [0.0]
    assembler = Reassembler(max_pending=3, max_bytes=2000, timeout=1.0, clock=lambda: clock[0])
    for rid in range(10):
        first = split_for_udp(big_response())[0]
        assembler.feed(rid, first[:8] + u32(rid) + first[12:])
        assert assembler.pending <= 3 and assembler.buffered_bytes <= 2000
    clock[0] = 5.0
    first = split_for_udp(big_response())[0]
    assembler.feed("late", first)
    assert assembler.pending == 1
    with pytest.raises(ProtocolError):
        assembler.feed("late", first[:16] + u32(99) + first[20:])  # disagrees on length


def test_read_message_over_a_stream() -> None:
    # The longest message (262144 bytes) as a TCP sender splits it: 262124 + 20 bytes.
    req = request(OpCode.RESOLUTION, blob(b"a/b") + u32(0) + u32(0), flags=0)
    longest = encode_values([url_value(1, "x" * 262076)])
    whole = codec.encode_resolution_response(req.envelope, req.header, b"a/b", longest)
    message = whole[20:]
    assert len(message) == 262144

    def split_envelope(seq: int) -> bytes:
        return struct.pack(">BBBBIIII", 2, 10, 0x20 | 2, 10, 0, 1, seq, 262144)

    async def run() -> None:
        reader = asyncio.StreamReader(limit=2**20)
        reader.feed_data(whole)
        reader.feed_data(split_envelope(0) + message[:262124])
        reader.feed_data(split_envelope(1) + message[262124:])
        reader.feed_data(whole[:10])
        reader.feed_eof()
        assert await read_message(reader) == (codec.decode_envelope(whole), message)
        got = await read_message(reader)
        assert got is not None and got[1] == message and got[0].flags == 0x20
        with pytest.raises(ProtocolError):
            await read_message(reader)
        empty = asyncio.StreamReader()
        empty.feed_eof()
        assert await read_message(empty) is None

    asyncio.run(run())


# --- client against a small in-test server --------------------------------------------

RECORD = [url_value(i, f"https://example.com/{i}/" + "q" * 60) for i in range(1, 13)]


class ToyServer(asyncio.DatagramProtocol):
    """Answers RESOLUTION and LIST_HANDLES with the codec, on one UDP and TCP port."""

    def __init__(self, *, udp_max_packets: int | None = None) -> None:
        self.udp_max_packets = udp_max_packets
        self.transport: asyncio.DatagramTransport | None = None
        self.tcp_connections = 0

    def answer(self, data: bytes) -> list[bytes]:
        msg, body = decode_request(data)
        env, hdr = msg.envelope, msg.header
        if isinstance(body, ResolutionRequest):
            if body.handle != b"88.100.7/X":
                return [codec.encode_error_response(env, hdr, 100, "handle not found")]
            return [codec.encode_resolution_response(env, hdr, body.handle, encode_values(RECORD))]
        handles = [b"88.100.7/A", b"88.100.7/B", b"88.100.7/C"]
        return [
            codec.encode_list_handles_response(env, hdr, handles[:2], more=True),
            codec.encode_list_handles_response(env, hdr, handles[2:]),
        ]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        for reply in self.answer(data):
            for packet in split_for_udp(reply, max_packets=self.udp_max_packets):
                self.transport.sendto(packet, addr)

    async def tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.tcp_connections += 1
        while (got := await read_message(reader)) is not None:
            env, message = got
            for reply in self.answer(env_bytes(env) + message):
                writer.write(reply)
        writer.close()


def env_bytes(env: codec.Envelope) -> bytes:
    return struct.pack(
        ">BBBBIIII", env.major, env.minor, env.flags | env.suggest_major, env.suggest_minor,
        env.session_id, env.request_id, env.sequence, env.length,
    )  # fmt: skip


def with_server(
    test: Callable[[tuple[str, int]], Awaitable[None]], udp_max_packets: int | None = None
) -> ToyServer:
    toy = ToyServer(udp_max_packets=udp_max_packets)

    async def run() -> None:
        tcp = await asyncio.start_server(toy.tcp, "127.0.0.1", 0)
        port = tcp.sockets[0].getsockname()[1]
        loop = asyncio.get_running_loop()
        udp, _ = await loop.create_datagram_endpoint(lambda: toy, local_addr=("127.0.0.1", port))
        try:
            await test(("127.0.0.1", port))
        finally:
            udp.close()
            tcp.close()

    asyncio.run(run())
    return toy


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_client_resolves_a_multi_packet_answer(transport: Transport) -> None:
    async def check(server: tuple[str, int]) -> None:
        rc, values = await resolve("88.100.7/X", server=server, transport=transport)
        assert (rc, values) == (1, RECORD)
        missing = await resolve("88.100.7/nope", server=server, transport=transport)
        assert missing == (100, "handle not found")

    assert with_server(check).tcp_connections == (2 if transport == "tcp" else 0)


def test_client_falls_back_to_tcp_when_udp_is_truncated() -> None:
    async def check(server: tuple[str, int]) -> None:
        replies = await exchange(
            OpCode.RESOLUTION, bodies.resolution_request_body("88.100.7/X"), server=server
        )
        assert len(replies) == 1
        assert await resolve("88.100.7/X", server=server) == (1, RECORD)

    assert with_server(check, udp_max_packets=1).tcp_connections == 2


def test_client_gathers_continued_tcp_messages() -> None:
    async def check(server: tuple[str, int]) -> None:
        assert await list_handles("88.100.7", server=server) == (
            1,
            ["88.100.7/A", "88.100.7/B", "88.100.7/C"],
        )

    with_server(check)


def test_client_times_out_without_a_server() -> None:
    async def check(server: tuple[str, int]) -> None:
        with pytest.raises((TimeoutError, OSError)):
            await resolve("88.100.7/X", server=("127.0.0.1", 9), timeout=0.3)

    with_server(check)


def test_sync_wrapper_refuses_a_running_loop() -> None:
    async def inside() -> None:
        resolve_sync("88.100.7/X", timeout=0.1)

    with pytest.raises(RuntimeError, match="await"):
        asyncio.run(inside())


def test_format_record_is_readable() -> None:
    values = parse_values(RAW_VALUES[:1] + RAW_VALUES[3:5], timestamp=TS)
    text = format_record("88.100.7/X", values)
    lines = text.splitlines()
    assert lines[0] == "88.100.7/X (3 values)"
    assert lines[1].split() == ["index", "type", "ttl", "timestamp", "perm", "data"]
    assert "https://example.com/产品/1" in lines[2]
    assert "vlist 300:88.100.7/admins" in lines[3]
    assert "admin 200:0.NA/88.100.7 perms=011111110011" in lines[4]


def test_site_address_ipv6_loopback_is_not_taken_for_ipv4() -> None:
    """::1 shares its first 12 zero bytes with IPv4-compatible addresses (server bug fix)."""
    from resolver.wire.site import decode_site, encode_site

    site = {"servers": [{"address": "::1", "interfaces": []},
                        {"address": "192.0.2.1", "interfaces": []}]}  # fmt: skip
    decoded = decode_site(encode_site(site))
    assert [s["address"] for s in decoded["servers"]] == ["::1", "192.0.2.1"]
