"""Wire administration: who answered a challenge, and the operations they may run.

Why here and not in the server loop: authentication and the admin operations are the
same rules as the REST API's, so this module only translates. A challenge answer is
checked against the key handle's HS_SECKEY / HS_PUBKEY value, read authoritatively (a
rotated secret counts at once); a valid answer yields the same ``core.auth.Principal``
HTTP Basic ``300:{prefix}/admin`` gives. The operations then call
``tenants.identifiers.services.records`` (put_record / delete_record / list_handles), which
check permissions and tenant isolation, write, audit and invalidate, exactly as for HTTP.
"""

from __future__ import annotations

import logging

from core import audit, ratelimit
from core.auth import Principal
from core.errors import AuthenticationFailed, IdnestError, InvalidValue
from core.identifiers import parse_handle
from core.values import value_to_json
from resolver.service import Resolver
from resolver.wire import codec
from resolver.wire.bodies import (
    Body,
    ChallengeAnswer,
    HandleRequest,
    RemoveValueRequest,
    ValuesRequest,
)
from resolver.wire.constants import OpCode, ResponseCode
from resolver.wire.keys import check_secret_answer, check_signed_answer, public_key_from_value
from resolver.wire.message import Message
from tenants.devices.service import device_principal, is_device
from tenants.identifiers.services import records

log = logging.getLogger("idnest.wire")

ADMIN_OPS = frozenset(
    {
        OpCode.CREATE_HANDLE, OpCode.ADD_VALUE, OpCode.MODIFY_VALUE, OpCode.REMOVE_VALUE,
        OpCode.DELETE_HANDLE, OpCode.LIST_HANDLES,
    }
)  # fmt: skip
LIST_PAGE = 500  # handles per LIST_HANDLES message (CONT between them)


def text(raw: bytes, what: str = "handle") -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidValue(f"the {what} is not valid UTF-8", field=what) from None


async def authenticate(
    resolver: Resolver, answer: ChallengeAnswer, nonce: bytes, digest: bytes, source: str = ""
) -> Principal:
    """The principal behind a challenge answer, or AuthenticationFailed; throttled per
    source like every door that checks a secret (RateLimited: rc 3), and audited."""
    limits = ratelimit.get_limits()
    await limits.check_failures("wire", source)
    who = f"{answer.index}:{answer.handle.decode('utf-8', 'replace')[:200]}"
    try:
        principal = await _authenticate(resolver, answer, nonce, digest)
    except AuthenticationFailed:
        await limits.failed("wire", source)
        await audit.record(actor=f"wire:{who}", action="login.failed", target="wire",
                           detail={"door": "wire", "source": source})  # fmt: skip
        raise
    detail = {"door": "wire", "source": source}
    await audit.record(actor=principal.actor, action="login", target="wire",
                       tenant_id=principal.tenant_id, detail=detail)  # fmt: skip
    return principal


async def _authenticate(
    resolver: Resolver, answer: ChallengeAnswer, nonce: bytes, digest: bytes
) -> Principal:
    key_handle = text(answer.handle, "key handle")
    who = f"{answer.index}:{key_handle}"
    try:
        record = await resolver.lookup(key_handle, authoritative=True)
        tenant = await resolver.tenant_for(parse_handle(key_handle).prefix)
    except IdnestError:
        raise AuthenticationFailed(f"no credential at {who}") from None
    if tenant is None or tenant.status != "active" or tenant.id != record.tenant_id:
        raise AuthenticationFailed(f"no active tenant holds {who}")
    auth_type = answer.auth_type.upper()
    for v in record.values:
        if v.index != answer.index or v.type.encode() != auth_type:
            continue
        ok = False
        if auth_type == b"HS_SECKEY" and v.data.format == "string":
            secret = str(v.data.value).encode("utf-8")
            ok = check_secret_answer(secret, nonce, digest, answer.signature)
        elif auth_type == b"HS_PUBKEY":
            try:
                key = public_key_from_value(v.data.format, str(v.data.value))
            except (ValueError, TypeError):
                raise AuthenticationFailed(
                    f"the HS_PUBKEY at {who} is not an RSA or DSA key"
                ) from None
            ok = check_signed_answer(key, nonce, digest, answer.signature)
        if ok:
            if await is_device(tenant.id, record.values):
                return device_principal(tenant, answer.index, key_handle)
            return Principal(
                actor=f"wire:{who}",
                tenant_id=tenant.id,
                tenant_prefix=tenant.prefix,
                scopes=frozenset({"read", "write"}),
            )
        raise AuthenticationFailed(f"the answer does not match the {v.type} at {who}")
    raise AuthenticationFailed(f"no {auth_type.decode('ascii', 'replace')} value at {who}")


def _json_values(body: ValuesRequest) -> list[dict[str, object]]:
    # Wire values are only structure-checked by the codec; put_record parses them
    # through core.values, the one write path, like a REST body.
    return [value_to_json(v) for v in body.values]


async def run_admin(
    msg: Message, body: Body, principal: Principal, reply_to: Message
) -> list[bytes]:
    """The answer frames to an authenticated admin request (``reply_to`` addresses them)."""
    env, hdr = reply_to.envelope, msg.header
    op = hdr.opcode
    if op == OpCode.LIST_HANDLES and isinstance(body, HandleRequest):
        return await _list(env, hdr, body, principal)
    if isinstance(body, ValuesRequest):
        handle = text(body.handle)
        values = _json_values(body)
        if op == OpCode.CREATE_HANDLE:
            await records.put_record(principal, handle, values, overwrite=False)
        elif op == OpCode.ADD_VALUE:
            await records.put_record(
                principal, handle, values, overwrite=False, index_various=True, must_exist=True
            )
        else:
            await records.put_record(
                principal, handle, values, overwrite=True, index_various=True, modify_only=True
            )
    elif isinstance(body, RemoveValueRequest):
        if not body.indices:
            raise InvalidValue("REMOVE_VALUE needs at least one index", field="index")
        await records.delete_record(principal, text(body.handle), indices=list(body.indices))
    elif op == OpCode.DELETE_HANDLE and isinstance(body, HandleRequest):
        await records.delete_record(principal, text(body.handle))
    else:
        return [codec.encode_error_response(env, hdr, ResponseCode.OPERATION_NOT_SUPPORTED)]
    return [codec.encode_success(env, hdr)]


async def _list(env: codec.Envelope, hdr: codec.Header, body: HandleRequest,
                principal: Principal) -> list[bytes]:  # fmt: skip
    target = text(body.handle)
    prefix = target[5:] if target.upper().startswith("0.NA/") else target
    frames: list[bytes] = []
    page = 0
    while True:
        result = await records.list_handles(principal, prefix, page=page, page_size=LIST_PAGE)
        start = page * LIST_PAGE
        more = start + len(result.handles) < result.total and len(result.handles) == LIST_PAGE
        encoded = [h.encode("utf-8") for h in result.handles]
        frames.append(codec.encode_list_handles_response(env, hdr, encoded, more=more))
        if not more:
            return frames
        page += 1
