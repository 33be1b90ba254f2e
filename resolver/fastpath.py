"""The resolution fast path: public cache hits answered below the framework.

A plain ``GET /api/handles/{handle}`` or ``GET /{handle}`` with no query string and no
credentials, whose record is cached, is answered here with the ready-made body or
redirect: a dictionary look-up and two ``send`` calls. A plain ``GET /api/handles/``
miss is loaded here too (``Resolver.lookup``), when it finds a record. Everything else
(filters, credentials, errors) goes on to Litestar unchanged.
Both paths give byte-identical answers; the tests hold them to it. HEAD is answered
like GET without the body, here and (through ``core.head``) in the framework.
"""

from __future__ import annotations

from typing import Any

from core.identifiers import fold
from resolver.cache import Record
from resolver.gs1.door import GS1Door
from resolver.service import Resolver

_JSON_HEADERS = [(b"content-type", b"application/json")]
_CREDENTIAL_HEADERS = (b"authorization", b"x-api-key")
_API = "/api/handles/"
_READ = ("GET", "HEAD")  # HEAD: the same status and headers, no body (core.head)


class ResolutionFastPath:
    def __init__(self, app: Any, resolver: Resolver) -> None:
        self.app = app
        self.resolver = resolver
        # GS1 Digital Link paths (/01/..., /.well-known/gs1resolver) have their own door.
        self.gs1 = GS1Door(resolver)

    def _cached(self, handle: str, scope: dict[str, Any]) -> Record | None:
        for name, _ in scope["headers"]:
            if name in _CREDENTIAL_HEADERS:
                return None
        entry = self.resolver.cache.get(fold(handle))
        # A record with a status or validity window is decided at answer time (Litestar).
        if isinstance(entry, Record) and entry.lifecycle is None:
            self.resolver.cache.hits += 1
            self.resolver.counters.hit(entry.tenant_id)
            return entry
        return None

    async def _load(self, handle: str, scope: dict[str, Any]) -> Record | None:
        """A plain public miss, loaded here too: the framework's request handling costs
        more than the (batched) read itself (resolver.loader). Anything but a record (not
        found, an invalid handle, the database down) goes on to the framework, which
        answers it as before (a not-found answer is cached, so the second look is cheap)."""
        for name, _ in scope["headers"]:
            if name in _CREDENTIAL_HEADERS:
                return None
        try:
            record = await self.resolver.lookup(handle)
        except Exception:
            return None
        # As for hits: a status or validity window is decided by the framework's door.
        return record if record.lifecycle is None else None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self.gs1.claims(scope["path"]):
            await self.gs1(scope, receive, send)
            return
        method = scope.get("method")
        if scope["type"] == "http" and method in _READ and not scope["query_string"]:
            path: str = scope["path"]
            if path.startswith(_API):
                record = self._cached(path[len(_API) :], scope)
                if record is None and method == "GET":
                    record = await self._load(path[len(_API) :], scope)
                if record is not None:
                    body = record.public_body
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 200,
                            "headers": [
                                *_JSON_HEADERS,
                                (b"content-length", str(len(body)).encode()),
                            ],
                        }
                    )
                    await send(
                        {"type": "http.response.body", "body": body if method == "GET" else b""}
                    )
                    return
            elif path.count("/") >= 2 and not path.startswith("/api/"):
                record = self._cached(path[1:], scope)
                if record is not None and record.location is not None:
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 302,
                            "headers": [
                                (b"location", record.location),
                                (b"content-length", b"0"),
                            ],
                        }
                    )
                    await send({"type": "http.response.body", "body": b""})
                    return
        await self.app(scope, receive, send)
