"""ASGI gate: the anonymous per-source rate limit, before the resolution fast path.

Only requests without credentials are counted here (credentials are counted per key or
client by the auth dependency, and their failures per source: core/ratelimit.py). Portal
pages, health and metrics are not doors and pass untouched. A refused request answers
429 with ``Retry-After``: problem+json, or the SNMS envelope on SNMS routes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from core.errors import SNMS_BUSINESS
from core.http import PROBLEM, problem_document
from core.ratelimit import Limits, door_of

_CREDENTIALS = (b"authorization", b"x-api-key", b"token")
_json = msgspec.json.Encoder()


def too_many(door: str, retry: int) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """Headers and body of a 429 on ``door``."""
    detail = f"too many requests from this address; retry after {retry} s"
    if door == "snms":
        body = _json.encode({"status": SNMS_BUSINESS, "message": detail, "data": None})
        kind = b"application/json"
    else:
        body = _json.encode(problem_document(429, "Too many requests", detail, rc=3))
        kind = PROBLEM.encode()
    headers = [
        (b"content-type", kind),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(retry).encode()),
    ]
    return headers, body


class RateLimitGate:
    def __init__(self, app: Any, limits: Limits, gs1_claims: Callable[[str], bool]) -> None:
        self.app = app
        self.limits = limits
        self.gs1_claims = gs1_claims

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self.limits.enabled:
            door = door_of(scope["path"], self.gs1_claims)
            if door is not None:
                for name, _ in scope["headers"]:
                    if name in _CREDENTIALS:
                        break
                else:
                    client = scope.get("client")
                    source = client[0] if client else "?"
                    retry = self.limits.check_anonymous(door, source)
                    if retry is not None:
                        headers, body = too_many(door, retry)
                        await send(
                            {"type": "http.response.start", "status": 429, "headers": headers}
                        )
                        await send({"type": "http.response.body", "body": body})
                        return
        await self.app(scope, receive, send)
