"""HEAD wherever GET is served (RFC 9110 §9.3.2), for every route at once.

Litestar answers HEAD only on handlers declared for it, and refuses a HEAD handler
that returns a body. Declaring HEAD route by route is what a new route forgets, so
this layer, just outside the framework, runs a HEAD request as GET and sends the
status and headers (Content-Length included) without the body. A 405 names HEAD in its
``Allow`` header wherever GET is allowed.
"""

from __future__ import annotations

from typing import Any

Scope = dict[str, Any]


def allow_with_head(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The response headers with HEAD added to ``Allow`` when GET is in it."""
    out = []
    for name, value in headers:
        if name.lower() == b"allow":
            methods = [m.strip() for m in value.decode("latin-1").split(",") if m.strip()]
            if "GET" in methods and "HEAD" not in methods:
                methods.insert(methods.index("GET") + 1, "HEAD")
            value = ", ".join(methods).encode("latin-1")
        out.append((name, value))
    return out


class HeadAsGet:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        head = scope["method"] == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}

        async def forward(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                message = {**message, "headers": allow_with_head(list(message["headers"]))}
            elif head and message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return  # the whole body is dropped; only the last, empty chunk goes
                message = {"type": "http.response.body", "body": b""}
            await send(message)

        await self.app(scope, receive, forward)
