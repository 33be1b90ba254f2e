"""The declared isolation case of every route: what A sends against B, and what counts.

One ``Case`` per method and path, exactly as the router lists them (the tables are
isolation_table_api.py and isolation_table_portal.py). A case is one of:

- ``target``: the request names B's resources (B's prefix, handle, job, link, key,
  member, template, code...). Every credential of A, and nobody, must be refused:
  401/403/404 problem+json, an SNMS -1/-2/-3 envelope, a login redirect or a plain
  403/404 page. ``cross=True`` also sends it with A's own prefix and B's object ids.
- ``scoped``: the request names no B resource; the answer is about the caller only,
  so it may succeed, but must show none of B's data.
- ``staff``: a node staff page; a tenant's member or nobody is refused.
- ``public``: public by nature, with the reason; may show B's public values, never
  B's private ones.

Strings are formatted with the world (``{b_prefix}``, ``{handle}``, ``{job_id}``...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from resolver.wire import bodies, codec
from resolver.wire.constants import OpCode

HDL = {"Content-Type": "application/x-hdl-message", "Accept": "application/x-hdl-message"}


@dataclass(frozen=True)
class Body:
    json: Any = None
    form: dict[str, Any] | None = None
    content: bytes | None = None
    wire: str | None = None  # "resolve" or "create": a Handle message about B's record
    headers: dict[str, str] = field(default_factory=dict)
    files: bool = False  # a CSV upload naming B's handles


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    kind: str = "target"
    queries: tuple[str, ...] = ("",)
    bodies: tuple[Body | None, ...] = (None,)
    fill: dict[str, str] = field(default_factory=dict)
    cross: bool = False
    reason: str = ""
    # Tables of B whose rows this request may change by design, with the reason.
    may_change: dict[str, str] = field(default_factory=dict)
    ends_session: bool = False
    # The credential kinds sent (all unless a route reads none of them, e.g. login doors).
    kinds: tuple[str, ...] = ()
    # Further statuses that count as a refusal here (a node-wide conflict, say), why.
    also_refused: tuple[int, ...] = ()
    why: str = ""


def C(method: str, path: str, kind: str = "target", **kw: Any) -> Case:
    if "query" in kw:
        kw["queries"] = (kw.pop("query"),)
    if "body" in kw:
        kw["bodies"] = (kw.pop("body"),)
    return Case(method, path, kind, **kw)


def P(method: str, path: str, reason: str, **kw: Any) -> Case:
    return C(method, path, "public", reason=reason, **kw)


def S(method: str, path: str, **kw: Any) -> Case:
    return C(method, path, "staff", **kw)


def wire_message(kind: str, handle: str) -> bytes:
    if kind == "resolve":
        return codec.encode_request(
            OpCode.RESOLUTION, bodies.resolution_request_body(handle), request_id=7
        )
    return codec.encode_request(OpCode.CREATE_HANDLE, bodies.values_body(handle, []), request_id=8)


def value_rows(suffix: str, data: str) -> dict[str, str]:
    return {"suffix": suffix, "is_new": "0", "rows": "1", "index_0": "1", "type_0": "URL",
            "data_0": data, "ttl_0": "86400", "public_0": "1"}  # fmt: skip


# Path parameters filled the same way everywhere unless a case says otherwise.
DEFAULT_FILL = {
    "prefix": "b_prefix", "handle": "handle", "job_id": "job_id", "link_id": "link_id",
    "key_id": "key_id", "membership_id": "membership_id", "user_id": "user_id",
    "app_id": "app_id", "scheme": "=gs1", "code": "gs1_code", "token": "=no-such-token-1234",
    "action": "=approve", "decision": "=approve", "file_path": "=portal.css",
    "path": "=openapi.txt", "dotted": "oid_code",
}  # fmt: skip
