"""Wire administration over TCP with challenge-response (HS_SECKEY and HS_PUBKEY)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from wire_server_helpers import put, start_listener

from core.values import HandleValue, ValueData
from resolver.wire import bodies
from resolver.wire.adminclient import Credential, request
from resolver.wire.bodies import Challenge, ErrorResponse, ListHandlesResponse
from resolver.wire.constants import DEFAULT_REQUEST_FLAGS, OpCode, OpFlag, ResponseCode
from resolver.wire.keys import encode_public_key

pytestmark = pytest.mark.anyio
SECRET = "correct horse battery staple"


@pytest.fixture
async def wire(app: Any, client: Any, settings: Any) -> Any:
    listener, port = await start_listener(app, settings)
    yield ("127.0.0.1", port)
    await listener.stop()


async def seckey(client: Any, tenant: Any, secret: str = SECRET) -> Credential:
    await put(client, tenant, f"{tenant.prefix}/admin",
              [{"index": 300, "type": "HS_SECKEY", "data": secret}])  # fmt: skip
    return Credential(f"{tenant.prefix}/admin", 300, secret=secret.encode())


def value(index: int, vtype: str, data: str, permissions: str = "1110") -> HandleValue:
    return HandleValue(
        index, vtype, ValueData("string", data), timestamp="", permissions=permissions
    )


async def rc_of(opcode: int, body: bytes, cred: Credential | None, server: Any, **kw: Any) -> int:
    replies = await request(opcode, body, cred, server=server, **kw)
    return replies[-1][0].header.rc


async def test_admin_cycle_with_secret_key(client, tenant_a, wire):
    cred = await seckey(client, tenant_a)
    h = f"{tenant_a.prefix}/WIRE-1"
    body = bodies.values_body(h, [value(1, "URL", "https://a.example/")])
    assert await rc_of(OpCode.CREATE_HANDLE, body, cred, wire) == ResponseCode.SUCCESS
    r = (await client.get(f"/api/handles/{h}")).json()  # HTTP sees it, with a default HS_ADMIN
    assert {v["type"] for v in r["values"]} == {"URL", "HS_ADMIN"}
    # again: HANDLE_ALREADY_EXISTS
    assert await rc_of(OpCode.CREATE_HANDLE, body, cred, wire) == ResponseCode.HANDLE_ALREADY_EXISTS
    add = bodies.values_body(h, [value(2, "EMAIL", "ops@a.example")])
    assert await rc_of(OpCode.ADD_VALUE, add, cred, wire) == ResponseCode.SUCCESS
    assert await rc_of(OpCode.ADD_VALUE, add, cred, wire) == ResponseCode.VALUE_ALREADY_EXISTS
    missing = bodies.values_body(f"{tenant_a.prefix}/NOPE", [value(2, "EMAIL", "x@y.z")])
    assert await rc_of(OpCode.ADD_VALUE, missing, cred, wire) == ResponseCode.HANDLE_NOT_FOUND
    mod = bodies.values_body(h, [value(1, "URL", "https://b.example/")])
    assert await rc_of(OpCode.MODIFY_VALUE, mod, cred, wire) == ResponseCode.SUCCESS
    mod_absent = bodies.values_body(h, [value(9, "URL", "https://c.example/")])
    assert await rc_of(OpCode.MODIFY_VALUE, mod_absent, cred, wire) == ResponseCode.VALUES_NOT_FOUND
    r = (await client.get(f"/api/handles/{h}?type=URL")).json()
    assert [v["data"]["value"] for v in r["values"]] == ["https://b.example/"]
    bad_value = bodies.values_body(h, [value(3, "", "x")])
    assert await rc_of(OpCode.ADD_VALUE, bad_value, cred, wire) == ResponseCode.INVALID_VALUE
    rm = bodies.remove_value_body(h, [2])
    assert await rc_of(OpCode.REMOVE_VALUE, rm, cred, wire) == ResponseCode.SUCCESS
    assert await rc_of(OpCode.REMOVE_VALUE, rm, cred, wire) == ResponseCode.VALUES_NOT_FOUND
    assert await rc_of(OpCode.REMOVE_VALUE, bodies.remove_value_body(h, []), cred,
                       wire) == ResponseCode.INVALID_VALUE  # fmt: skip
    replies = await request(OpCode.LIST_HANDLES, bodies.handle_body(f"0.NA/{tenant_a.prefix}"),
                            cred, server=wire)  # fmt: skip
    listed = [
        x.decode() for _, b in replies if isinstance(b, ListHandlesResponse) for x in b.handles
    ]
    assert sorted(listed) == sorted([h, f"{tenant_a.prefix}/admin"])
    assert await rc_of(OpCode.DELETE_HANDLE, bodies.handle_body(h), cred, wire) == 1
    assert (await client.get(f"/api/handles/{h}")).status_code == 404
    assert await rc_of(OpCode.DELETE_HANDLE, bodies.handle_body(h), cred,
                       wire) == ResponseCode.HANDLE_NOT_FOUND  # fmt: skip


async def test_challenge_and_bad_credentials(client, tenant_a, wire):
    await seckey(client, tenant_a)
    body = bodies.values_body(f"{tenant_a.prefix}/X", [value(1, "URL", "https://a.example/")])
    replies = await request(OpCode.CREATE_HANDLE, body, None, server=wire)
    msg, challenge = replies[0]
    assert msg.header.rc == ResponseCode.AUTHENTICATION_NEEDED
    assert isinstance(challenge, Challenge) and len(challenge.nonce) == 16
    wrong = Credential(f"{tenant_a.prefix}/admin", 300, secret=b"wrong")
    replies = await request(OpCode.CREATE_HANDLE, body, wrong, server=wire)
    assert replies[-1][0].header.rc == ResponseCode.AUTHENTICATION_FAILED
    assert isinstance(replies[-1][1], ErrorResponse)
    wrong_index = Credential(f"{tenant_a.prefix}/admin", 301, secret=SECRET.encode())
    assert await rc_of(OpCode.CREATE_HANDLE, body, wrong_index, wire) == 403
    nobody = Credential(f"{tenant_a.prefix}/ghost", 300, secret=SECRET.encode())
    assert await rc_of(OpCode.CREATE_HANDLE, body, nobody, wire) == 403
    assert (await client.get(f"/api/handles/{tenant_a.prefix}/X")).status_code == 404


async def test_public_key_credential(client, tenant_a, wire):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    blob = base64.b64encode(encode_public_key(key.public_key())).decode()
    pubkey = {"index": 301, "type": "HS_PUBKEY", "data": {"format": "key", "value": blob}}
    await put(client, tenant_a, f"{tenant_a.prefix}/admin", [pubkey])
    cred = Credential(f"{tenant_a.prefix}/admin", 301, private_key=key)
    h = f"{tenant_a.prefix}/PK-1"
    body = bodies.values_body(h, [value(1, "URL", "https://pk.example/")])
    assert await rc_of(OpCode.CREATE_HANDLE, body, cred, wire) == ResponseCode.SUCCESS
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = Credential(f"{tenant_a.prefix}/admin", 301, private_key=other)
    assert await rc_of(OpCode.DELETE_HANDLE, bodies.handle_body(h), forged, wire) == 403
    assert (await client.get(f"/api/handles/{h}")).status_code == 200


async def test_restricted_values_only_to_the_owner(client, tenant_a, tenant_b, wire):
    cred_a = await seckey(client, tenant_a)
    cred_b = await seckey(client, tenant_b, "other secret")
    h = f"{tenant_a.prefix}/PRIV"
    await put(client, tenant_a, h, [{"index": 1, "type": "URL", "data": "https://p.example/"},
                                    {"index": 5, "type": "NOTE", "data": "internal",
                                     "permissions": "1100"}])  # fmt: skip
    flags = DEFAULT_REQUEST_FLAGS & ~OpFlag.PUBL  # ask for restricted values too
    req = bodies.resolution_request_body(h)

    def types(replies: Any) -> set[str]:
        return {v.type for v in replies[-1][1].values}

    replies = await request(OpCode.RESOLUTION, req, cred_a, server=wire, op_flags=flags)
    assert replies[-1][0].header.rc == 1 and types(replies) == {"URL", "NOTE", "HS_ADMIN"}
    # tenant B authenticates fine but is not the owner: public values only
    replies = await request(OpCode.RESOLUTION, req, cred_b, server=wire, op_flags=flags)
    assert replies[-1][0].header.rc == 1 and types(replies) == {"URL", "HS_ADMIN"}
    # anonymous, asking for restricted values: challenged
    replies = await request(OpCode.RESOLUTION, req, None, server=wire, op_flags=flags)
    assert replies[0][0].header.rc == ResponseCode.AUTHENTICATION_NEEDED
    # the secret itself is never public, not even its own handle over UDP/TCP anonymously
    replies = await request(OpCode.RESOLUTION, bodies.resolution_request_body(cred_a.handle),
                            None, server=wire)  # fmt: skip
    assert replies[-1][0].header.rc == ResponseCode.VALUES_NOT_FOUND or "HS_SECKEY" not in types(
        replies
    )


async def test_tenant_isolation(client, tenant_a, tenant_b, wire):
    await seckey(client, tenant_a)
    cred_b = await seckey(client, tenant_b, "other secret")
    h = f"{tenant_a.prefix}/MINE"
    await put(client, tenant_a, h, [{"index": 1, "type": "URL", "data": "https://a.example/"}])
    attempts = [
        (OpCode.CREATE_HANDLE, bodies.values_body(f"{tenant_a.prefix}/B-WAS-HERE",
                                                  [value(1, "URL", "https://b/")])),
        (OpCode.ADD_VALUE, bodies.values_body(h, [value(2, "URL", "https://b/")])),
        (OpCode.MODIFY_VALUE, bodies.values_body(h, [value(1, "URL", "https://b/")])),
        (OpCode.REMOVE_VALUE, bodies.remove_value_body(h, [1])),
        (OpCode.DELETE_HANDLE, bodies.handle_body(h)),
        (OpCode.LIST_HANDLES, bodies.handle_body(f"0.NA/{tenant_a.prefix}")),
    ]  # fmt: skip
    for opcode, body in attempts:
        assert await rc_of(opcode, body, cred_b, wire) == ResponseCode.INSUFFICIENT_PERMISSIONS
    r = (await client.get(f"/api/handles/{h}")).json()
    assert [v["data"]["value"] for v in r["values"] if v["type"] == "URL"] == ["https://a.example/"]
    # B's key handle cannot be used to claim A's prefix by naming A's handle either
    forged = Credential(f"{tenant_a.prefix}/admin", 300, secret=b"other secret")
    assert await rc_of(OpCode.DELETE_HANDLE, bodies.handle_body(h), forged, wire) == 403


async def test_answer_without_pending_challenge(wire):
    body = bodies.challenge_answer_body("HS_SECKEY", "88.100.1/admin", 300, b"\x13" + bytes(32))
    replies = await request(OpCode.RESPONSE_TO_CHALLENGE, body, None, server=wire)
    assert replies[-1][0].header.rc == ResponseCode.AUTHEN_ERROR


async def test_connection_closed_after_repeated_auth_failures(client, tenant_a, wire):
    import asyncio

    from resolver.wire.codec import encode_request, parse_message
    from resolver.wire.framing import read_message
    from resolver.wire.keys import secret_answer

    await seckey(client, tenant_a)
    reader, writer = await asyncio.open_connection(*wire)
    body = bodies.handle_body(f"{tenant_a.prefix}/whatever")
    try:
        for attempt in range(4):
            rid = 100 + attempt
            writer.write(encode_request(OpCode.DELETE_HANDLE, body, request_id=rid))
            got = await read_message(reader)
            if got is None:
                break
            challenge = parse_message(*got)
            assert challenge.header.rc == ResponseCode.AUTHENTICATION_NEEDED
            nonce = bodies.decode_body(challenge)[0].nonce  # type: ignore[union-attr]
            answer = secret_answer(b"wrong", nonce, b"")
            writer.write(encode_request(OpCode.RESPONSE_TO_CHALLENGE, bodies.challenge_answer_body(
                "HS_SECKEY", f"{tenant_a.prefix}/admin", 300, answer), request_id=rid))  # fmt: skip
            got = await read_message(reader)
            assert got is not None and parse_message(*got).header.rc == 403
        assert attempt == 3 and got is None  # the fourth request found the stream closed
    finally:
        writer.close()


async def _cli(*args: str, stdin: bytes = b"") -> tuple[int, str, str]:
    import asyncio
    import os
    import sys

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "portal.cli", *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": os.getcwd()},
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(stdin), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_cli_credentials_and_resolve(client, tenant_a, tenant_b, wire, tmp_workdir):
    import os

    from cryptography.hazmat.primitives import serialization

    admin = f"{tenant_a.prefix}/admin"
    add = ("credential", "add", "--tenant", tenant_a.prefix, "--handle", admin)
    rc, out, err = await _cli(*add, "--index", "300", "--secret-stdin", stdin=b"cli secret\n")
    assert rc == 0, err
    assert out.strip() == f"HS_SECKEY at 300:{admin}"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = os.path.join(tmp_workdir, "key.pem")
    with open(pem, "wb") as fh:
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        fh.write(key.public_key().public_bytes(serialization.Encoding.PEM, spki))
    rc, out, err = await _cli(*add, "--index", "301", "--pubkey", pem)
    assert rc == 0, err
    # a DSA key in the Handle binary form hdllib writes (pubkey.bin), kept byte for byte;
    # the PEM RSA key is stored in the same form (RSA_PUB_KEY)
    from pathlib import Path

    dsa_bin = Path(__file__).parent / "fixtures" / "dsa.pub.bin"
    rc, out, err = await _cli(*add, "--index", "302", "--pubkey", str(dsa_bin))
    assert rc == 0 and out.strip() == f"HS_PUBKEY at 302:{admin}", err
    stored = {}
    for index in (301, 302):
        got = (await client.get(f"/api/handles/{admin}?index={index}")).json()["values"][0]
        stored[index] = base64.b64decode(got["data"]["value"])
    assert stored[302] == dsa_bin.read_bytes()
    assert stored[301][:15] == b"\x00\x00\x00\x0bRSA_PUB_KEY"
    junk = os.path.join(tmp_workdir, "junk.pem")
    with open(junk, "wb") as fh:
        fh.write(b"not a key")
    rc, out, err = await _cli(*add, "--index", "303", "--pubkey", junk)
    assert rc == 2 and "junk.pem" in err
    h = f"{tenant_a.prefix}/CLI-1"
    for n, cred in enumerate([Credential(admin, 300, secret=b"cli secret"),
                              Credential(admin, 301, private_key=key)]):  # fmt: skip
        body = bodies.values_body(f"{h}{n}", [value(1, "URL", "https://cli.example/")])
        assert await rc_of(OpCode.CREATE_HANDLE, body, cred, wire) == ResponseCode.SUCCESS
    # the secret stays hidden; both credentials sit on the admin handle
    r = await client.get(f"/api/handles/{admin}", headers=tenant_a.auth())
    assert {v["type"] for v in r.json()["values"]} == {"HS_ADMIN", "HS_PUBKEY"}
    assert len(r.json()["values"]) == 3  # HS_ADMIN and the two keys
    server = f"{wire[0]}:{wire[1]}"
    for flag in ("--udp", "--tcp"):
        rc, out, err = await _cli("resolve", flag, "-v", "--server", server, f"{h}0")
        assert rc == 0, err
        assert "https://cli.example/" in out and f"{h}0" in out
        assert err.strip() == ("answered over udp, 1 datagram" if flag == "--udp"
                               else "answered over tcp")  # fmt: skip
    rc, out, err = await _cli("resolve", "--server", server, f"{tenant_a.prefix}/NOPE")
    assert rc == 1 and "error 100" in err
    # another tenant's prefix is refused
    rc, out, err = await _cli("credential", "add", "--tenant", tenant_b.prefix, "--handle",
                              admin, "--secret-stdin", stdin=b"x\n")  # fmt: skip
    assert rc != 0 and "not for" in err


async def test_wire_create_past_the_plan_cap_is_rc_604(client, tenant_a, wire):
    import uuid

    from billing.plans.service import assign_plan, create_plan

    cred = await seckey(client, tenant_a)  # the admin handle: 1 of the month's 2
    code = "wcap-" + uuid.uuid4().hex[:10]
    await create_plan(code, "Wire cap", monthly_fee_fen=0, included_registrations=2,
                      included_resolutions=0, registration_price_fen=0,
                      resolution_price_per_1000_fen=0, registration_cap=2,
                      actor="test")  # fmt: skip
    await assign_plan(tenant_a.prefix, code, actor="test")
    for suffix, rc in (("W-1", ResponseCode.SUCCESS), ("W-2", 604)):
        body = bodies.values_body(f"{tenant_a.prefix}/{suffix}", [value(1, "URL", "https://a.x/")])
        assert await rc_of(OpCode.CREATE_HANDLE, body, cred, wire) == rc
    # resolution goes on past the cap
    assert (await client.get(f"/api/handles/{tenant_a.prefix}/W-1")).status_code == 200
