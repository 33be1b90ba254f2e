"""The Handle protocol over HTTP: the "HTTP" interface our HS_SITE advertises.

Handle clients (CNRI's Java client and the SDKs built on it, such as the industrial
internet's IDPointer SDK) try UDP, then TCP, then HTTP. Over HTTP they ``POST
/{url-encoded handle}`` (``POST /`` for GET_SITE_INFO) with ``Content-Type`` and
``Accept`` set to ``application/x-hdl-message`` and one whole message (envelope included)
as the body, and read the answer's envelope-framed messages straight after the
response headers. Like UDP it is connectionless: no challenge can be answered, so it
resolves public values and answers site requests; administration stays on TCP.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post
from litestar.di import NamedDependency

from core.errors import InvalidValue
from resolver.wire import codec
from resolver.wire.bodies import decode_request
from resolver.wire.constants import ENVELOPE_SIZE, MAX_MESSAGE_LENGTH
from resolver.wire.reader import ProtocolError
from resolver.wire.server import WireServer

HDL_MIME_TYPE = "application/x-hdl-message"


# The path names the handle only for proxies and logs (``/`` for GET_SITE_INFO); the
# message itself says what is asked. Clients send no cookies: no CSRF token, no session.
@post(
    ["/", "/{handle:path}"],
    opt={"exclude_from_csrf": True, "skip_session": True},
    request_max_body_size=ENVELOPE_SIZE + MAX_MESSAGE_LENGTH,
    status_code=200,
    include_in_schema=False,
)
async def hdl_message(
    request: Request[Any, Any, Any], wire: NamedDependency[WireServer]
) -> Response[bytes]:
    if HDL_MIME_TYPE not in request.headers.get("content-type", "").lower():
        raise InvalidValue(
            f"a POST here carries a Handle protocol message: Content-Type {HDL_MIME_TYPE}",
            field="Content-Type",
        )
    try:
        frames = await _answer(wire, await request.body())
    except ProtocolError as exc:
        raise InvalidValue(f"not a Handle protocol message: {exc.message}", field="body") from None
    return Response(content=b"".join(frames), media_type=HDL_MIME_TYPE)


async def _answer(wire: WireServer, data: bytes) -> list[bytes]:
    """One whole request frame POSTed over HTTP; its answer frames. Connectionless, as
    UDP is: public values only, and administration is OPERATION_NOT_SUPPORTED (the wire
    server's ``answer`` without a connection). Raises ProtocolError when the bytes
    cannot even be answered (no envelope)."""
    try:
        msg, body = decode_request(data)
    except ProtocolError as exc:
        reply = codec.encode_protocol_error(data, exc)
        if reply is None:
            raise
        return [reply]
    reply = wire.fast(msg, body, tcp=False)
    if reply is not None:
        return [reply]
    return await wire.answer(msg, body, None)


ROUTES = [hdl_message]
