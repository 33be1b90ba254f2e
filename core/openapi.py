"""What the OpenAPI says about each operation, declared beside the handler.

Why: many handlers read their body raw (``request.body()``: one write path parses it the
same way for every door) and answer pre-encoded ``Response[bytes]``, so Litestar sees
neither a request body nor a response schema. Handlers declare them here from msgspec
Structs (each context's ``schemas.py``): ``responses=ok(JobInfo)`` and
``operation_class=body(HandleWrite)``. ``documented`` gives every operation the
problem+json answers any request can get (bad input, no or wrong credentials, not found,
a conflict, too large, the rate limit, the database away), so a generated client knows
them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType as MediaType
from litestar.openapi.spec import Operation, Reference, RequestBody

JSON = "application/json"
PROBLEM = "application/problem+json"


class Problem(msgspec.Struct, kw_only=True):
    """An error, RFC 9457 problem+json (core.http); ``responseCode`` is the Handle rc."""

    type: str
    title: str
    status: int
    detail: str
    responseCode: int
    message: str
    field: str | None = None
    handle: str | None = None
    errors: list[dict[str, Any]] | None = None


PROBLEMS: dict[int, str] = {
    400: "Bad request: the detail names the parameter or value",
    401: "Authentication needed or failed",
    403: "Not allowed for this key, member or tenant",
    404: "Not found",
    405: "Method not allowed (the Allow header lists the methods)",
    409: "Conflict with what exists",
    413: "Request too large",
    429: "Rate limit exceeded; Retry-After says when to try again",
    503: "Temporarily unavailable (database away); Retry-After says when to try again",
}


def problem_responses() -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(
            data_container=Problem, description=text, media_type=PROBLEM, generate_examples=False
        )
        for status, text in PROBLEMS.items()
    }


def ok(
    container: Any, *statuses: int, media_type: str = JSON, description: str = "Success"
) -> dict[int, ResponseSpec]:
    """The success answer(s) of a handler that returns pre-encoded bytes."""
    return {
        status: ResponseSpec(
            data_container=container,
            description=description,
            media_type=media_type,
            generate_examples=False,
        )
        for status in statuses or (200,)
    }


def _inline(node: Any, defs: Mapping[str, Any]) -> Any:
    """msgspec's JSON Schema with its ``$ref``s replaced by the definitions (bodies are
    small and not recursive; Litestar owns ``components.schemas``)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def json_schema(container: Any) -> dict[str, Any]:
    schema = msgspec.json.schema(container)
    return _inline(schema, schema.get("$defs", {}))


def body(
    container: Any = None,
    *,
    media_types: Iterable[str] = (JSON,),
    raw: dict[str, Any] | None = None,
    description: str = "",
    required: bool = True,
    also: Mapping[int, Mapping[str, Any]] | None = None,
) -> type[Operation]:
    """An ``operation_class`` documenting the body a handler reads raw: the schema of
    ``container`` (a Struct or type), or ``raw`` for files (CSV, XLSX, NDJSON).
    ``also`` adds media types to a response ({200: {"application/x-ndjson": schema}})
    for handlers that answer one status in several formats."""
    content = None
    if container is not None or raw is not None:
        schema = raw if raw is not None else json_schema(container)
        content = {m: MediaType(schema=schema) for m in media_types}  # type: ignore[arg-type]
    extra = {str(k): dict(v) for k, v in (also or {}).items()}

    @dataclass
    class Documented(Operation):
        def __post_init__(self) -> None:
            if self.request_body is None and content is not None:
                self.request_body = RequestBody(
                    content=content, description=description or None, required=required
                )
            for status, media in extra.items():
                response = (self.responses or {}).get(status)
                if response is not None and not isinstance(response, Reference):
                    response.content = {
                        **(response.content or {}),
                        **{m: MediaType(schema=s) for m, s in media.items()},
                    }

    return Documented


def documented(app: Any) -> Any:
    """Every HTTP handler of ``app`` documents the problem+json answers (its own specs
    win). Before the first request: Litestar builds the OpenAPI on first use."""
    for route in app.routes:
        for h in getattr(route, "route_handlers", ()):
            if isinstance(h, HTTPRouteHandler) and h.include_in_schema is not False:
                h.responses = {**problem_responses(), **dict(h.responses or {})}
    return app


REDIRECT = {302: ResponseSpec(None, description="Redirect to the record's first public URL")}
