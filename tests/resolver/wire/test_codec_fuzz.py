"""Property tests: hostile bytes never break the wire codec, and values round-trip.

The server decodes whatever arrives on UDP 2641, so the promise tested here is the one
it relies on: any input either decodes or raises ``ProtocolError`` — nothing else — and
does so quickly, without trusting claimed lengths.
"""

from __future__ import annotations

import base64
import contextlib
import struct
from datetime import timedelta

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.values import HandleValue, Reference, ValueData, parse_values
from resolver.wire import bodies, codec
from resolver.wire.bodies import decode_body, decode_request
from resolver.wire.codec import OpCode, ProtocolError
from resolver.wire.framing import Reassembler, split_for_udp
from resolver.wire.site import decode_site, encode_site
from resolver.wire.values import data_bytes, decode_value_bytes, encode_value, encode_values

FAST = settings(
    max_examples=400,
    deadline=timedelta(milliseconds=500),
    suppress_health_check=[HealthCheck.too_slow],
)
TS = "2026-01-02T03:04:05Z"
BIG_NUMBERS = [0, 1, 0x7F, 0xFF, 0x7FFF, 0xFFFF, 2**31 - 1, 2**31, 2**32 - 1, 262144, 262145]


def decode_anything(data: bytes) -> None:
    """Every decoding entry point a peer's bytes can reach."""
    for entry in (
        lambda: decode_body(codec.decode_message(data)),
        lambda: decode_request(data),
        lambda: decode_site(data),
        lambda: decode_value_bytes(data),
    ):
        with contextlib.suppress(ProtocolError):
            entry()


def corpus() -> list[bytes]:
    values = parse_values(
        [
            {"index": 1, "type": "URL", "data": "https://example.com/1"},
            {"index": 2, "type": "HS_ADMIN", "data": {"format": "admin",
             "value": {"handle": "0.NA/88.100.7", "index": 200}}},
            {"index": 3, "type": "HS_VLIST", "data": {"format": "vlist",
             "value": [{"handle": "a/b", "index": 1}]}},
            {"index": 4, "type": "HS_SITE", "data": {"format": "site", "value": {"servers": [
                {"serverId": 1, "address": "::1",
                 "interfaces": [{"query": True, "protocol": "TCP", "port": 1}]}]}}},
            {"index": 5, "type": "X", "data": "y", "references": [{"handle": "c/d", "index": 2}]},
        ],
        timestamp=TS,
    )  # fmt: skip
    block = encode_values(values)

    def req(opcode: int, body: bytes, flags: int = 0x00800000) -> bytes:
        return codec.encode_request(opcode, body, request_id=5, op_flags=flags, expiration=1)

    resolution = codec.decode_message(req(OpCode.RESOLUTION, bodies.resolution_request_body("a/b")))
    env, hdr = resolution.envelope, resolution.header
    digest = codec.request_digest(resolution)
    listing = codec.decode_message(req(OpCode.LIST_HANDLES, bodies.handle_body("0.NA/a")))
    site = codec.decode_message(req(OpCode.GET_SITE_INFO, bodies.handle_body("")))
    return [
        req(OpCode.RESOLUTION, bodies.resolution_request_body("a/b", [1, 2], ["URL", "HS_"])),
        req(OpCode.RESOLUTION, bodies.resolution_request_body("88.100.7/PUMP-000123"), 0),
        req(OpCode.CREATE_HANDLE, bodies.values_body("a/b", values)),
        req(OpCode.REMOVE_VALUE, bodies.remove_value_body("a/b", [1, 2])),
        req(OpCode.RESPONSE_TO_CHALLENGE,
            bodies.challenge_answer_body("HS_SECKEY", "a/b", 3, b"s")),
        req(OpCode.VERIFY_CHALLENGE, bodies.verify_challenge_body(
            "a/b", 3, b"n" * 16, bodies.RequestDigest(2, b"d" * 20), b"s")),
        req(OpCode.LOGIN_IDIS, bodies.login_body("a/b", 300)),
        req(OpCode.GET_SITE_INFO, bodies.handle_body("")),
        codec.encode_resolution_response(env, hdr, b"a/b", block, digest=digest),
        codec.encode_error_response(env, hdr, 100, "nope", indices=[1, 2], digest=digest),
        codec.encode_challenge(env, hdr, b"n" * 16, digest),
        codec.encode_list_handles_response(
            listing.envelope, listing.header, [b"a/1", b"a/2"], more=True),
        codec.encode_referral(env, hdr, b"0.NA/88", block),
        codec.encode_site_info_response(
            site.envelope, site.header, encode_site(values[3].data.value)),
    ]  # fmt: skip


CORPUS = corpus()


@FAST
@given(st.binary(max_size=600))
def test_random_bytes_only_raise_protocol_error(data: bytes) -> None:
    decode_anything(data)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(CORPUS)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "int", "cut", "insert", "delete"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "int" and len(data) >= 4:
            at = min(at, len(data) - 4)
            struct.pack_into(">I", data, at, draw(st.sampled_from(BIG_NUMBERS)))
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 8))]
    return bytes(data)


@FAST
@given(mutated())
def test_mutated_messages_only_raise_protocol_error(data: bytes) -> None:
    decode_anything(data)
    # A length field fixed up to match keeps the mutation past the first checks.
    if len(data) >= 20:
        decode_anything(data[:16] + struct.pack(">I", len(data) - 20) + data[20:])


def test_corpus_decodes() -> None:
    for frame in CORPUS:
        decode_body(codec.decode_message(frame))


@FAST
@given(st.lists(st.tuples(st.sampled_from(["p", "q"]), mutated()), max_size=30))
def test_reassembler_takes_anything_and_stays_bounded(packets: list[tuple[str, bytes]]) -> None:
    assembler = Reassembler(max_pending=4, max_bytes=4096)
    for source, packet in packets:
        for piece in split_for_udp(packet) if len(packet) >= 20 else [packet]:
            with contextlib.suppress(ProtocolError):
                assembler.feed(source, piece)
            assert assembler.pending <= 4 and assembler.buffered_bytes <= 4096 + 512


# --- round trips ---------------------------------------------------------------------

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
handle = st.builds(
    lambda p, s: f"{p}/{s}", st.from_regex(r"[0-9]{2}\.[0-9]{1,3}", fullmatch=True), text
)
index = st.integers(1, 2**31 - 1)
data = st.one_of(
    st.builds(lambda s: ValueData("string", s), text),
    st.builds(lambda b: ValueData("base64", base64.b64encode(b).decode()), st.binary(max_size=64)),
    st.builds(lambda b: ValueData("hex", b.hex()), st.binary(max_size=64)),
    st.builds(
        lambda h, i, p: ValueData("admin", {"handle": h, "index": i, "permissions": p}),
        handle, index, st.from_regex(r"[01]{12}", fullmatch=True),
    ),
    st.builds(
        lambda refs: ValueData("vlist", [{"handle": h, "index": i} for h, i in refs]),
        st.lists(st.tuples(handle, index), max_size=4),
    ),
)  # fmt: skip
TYPE_FOR = {"admin": "HS_ADMIN", "vlist": "HS_VLIST"}


@st.composite
def values(draw: st.DrawFn) -> HandleValue:
    value_data = draw(data)
    return HandleValue(
        index=draw(index),
        type=TYPE_FOR.get(value_data.format)
        or draw(text.filter(lambda t: not t.startswith("HS_"))),
        data=value_data,
        ttl=draw(st.integers(0, 2**31 - 1)),
        timestamp=draw(st.sampled_from([TS, "1970-01-01T00:00:00Z", "2106-02-07T06:28:15Z"])),
        permissions=draw(st.from_regex(r"[01]{4}", fullmatch=True)),
        references=tuple(draw(st.lists(st.builds(Reference, handle, index), max_size=3))),
    )


@FAST
@given(values())
def test_values_round_trip(value: HandleValue) -> None:
    decoded = decode_value_bytes(encode_value(value))
    if value.data.format in ("admin", "vlist", "string"):
        assert decoded == value
    else:  # hex/base64 carry no format marker: same bytes, normalised format
        assert decoded.data.format in ("string", "base64")
        assert data_bytes(decoded.data) == data_bytes(value.data)
        assert msgspec.structs.replace(decoded, data=value.data) == value


# IPv6 addresses that look like IPv4 (mapped or compatible) come back as IPv4 text.
plain_v6 = st.ip_addresses(v=6).filter(
    lambda a: a.packed[:12] not in (bytes(12), bytes(10) + b"\xff\xff")
)
# 0.0.0.0/8 is no host address: written as 12 zero bytes it reads back as IPv6 (::, ::1).
host_v4 = st.ip_addresses(v=4).filter(lambda a: a.packed[0] != 0)
site_value = st.fixed_dictionaries(
    {
        "version": st.integers(0, 0xFFFF),
        "protocolVersion": st.builds("{}.{}".format, st.integers(0, 255), st.integers(0, 255)),
        "serialNumber": st.integers(0, 0xFFFF),
        "primaryMask": st.integers(0, 255),
        "hashOption": st.integers(0, 255),
        "hashFilter": text,
        "attributes": st.lists(st.fixed_dictionaries({"name": text, "value": text}), max_size=3),
        "servers": st.lists(
            st.fixed_dictionaries(
                {
                    "serverId": st.integers(0, 2**31 - 1),
                    "address": st.one_of(host_v4, plain_v6).map(str),
                    "publicKey": st.builds(
                        lambda b: {"format": "key", "value": base64.b64encode(b).decode()},
                        st.binary(max_size=40),
                    ),
                    "interfaces": st.lists(
                        st.fixed_dictionaries({
                            "query": st.booleans(), "admin": st.booleans(),
                            "protocol": st.sampled_from(["UDP", "TCP", "HTTP", "HTTPS"]),
                            "port": st.integers(0, 65535),
                        }),
                        max_size=3,
                    ),
                }
            ),
            max_size=3,
        ),
    }
)  # fmt: skip


@FAST
@given(site_value)
def test_site_round_trips(site: dict[str, object]) -> None:
    assert decode_site(encode_site(site)) == site


@FAST
@given(handle, st.lists(index, max_size=3), st.lists(text, max_size=3), st.integers(0, 2**32 - 1))
def test_fast_request_path_equals_general_path(
    name: str, indices: list[int], types: list[str], flags: int
) -> None:
    frame = codec.encode_request(
        OpCode.RESOLUTION, bodies.resolution_request_body(name, indices, types),
        request_id=7, op_flags=flags,
    )  # fmt: skip
    message = codec.decode_message(frame)
    assert decode_request(frame) == (message, decode_body(message)[0])
