"""The shapes the identifiers doors send and take, as msgspec Structs for the OpenAPI.

Handlers encode their answers from services' dataclasses (pre-encoded bytes are the fast
path); these Structs say what those bytes are (``core.openapi.ok``) and what a raw body
must look like (``core.openapi.body``). Field names are the wire names.
"""

from __future__ import annotations

from typing import Any

import msgspec


class ValueData(msgspec.Struct):
    format: str
    value: Any


class Reference(msgspec.Struct):
    handle: str
    index: int


class ValueOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    index: int
    type: str
    data: ValueData
    ttl: int
    timestamp: str
    permissions: str | None = None
    references: list[Reference] | None = None


class HandleRecord(msgspec.Struct):
    """A resolved record (Handle.net REST ``GET /api/handles/{handle}``)."""

    responseCode: int
    handle: str
    values: list[ValueOut]


class ValueIn(msgspec.Struct, kw_only=True):
    """A value to write: ``data`` is a string or ``{format, value}``."""

    index: int
    type: str
    data: str | ValueData
    ttl: int | None = None
    permissions: str | None = None
    references: list[Reference] | None = None


class HandleWrite(msgspec.Struct):
    """The body of ``PUT /api/handles/{handle}`` (a bare list of values is taken too);
    the lifecycle fields are those of ``PATCH`` (LifecycleChange)."""

    values: list[ValueIn]
    status: str | None = None
    reason: str | None = None
    validFrom: str | None = None
    validUntil: str | None = None


HANDLE_WRITE = HandleWrite | list[ValueIn]


class WriteAnswer(msgspec.Struct):
    responseCode: int
    handle: str


class HandleList(msgspec.Struct, kw_only=True):
    responseCode: int
    prefix: str
    totalCount: int
    page: int | None = None
    pageSize: int | None = None
    handles: list[str] | None = None


class Job(msgspec.Struct, kw_only=True):
    jobId: str
    status: str
    totalRows: int
    doneRows: int
    okRows: int
    failedRows: int
    error: str | None = None


class JobAnswer(Job, kw_only=True):
    responseCode: int


class JobList(msgspec.Struct):
    responseCode: int
    jobs: list[Job]


class Hit(msgspec.Struct):
    handle: str
    createdAt: str
    updatedAt: str
    values: list[ValueOut]


class SearchPage(msgspec.Struct):
    responseCode: int
    items: list[Hit]
    nextCursor: str | None


class SnmsAnswer(msgspec.Struct):
    """SNMS's envelope: status 1 success, -1 not logged in, -2 business error; data varies."""

    status: int
    message: str
    data: Any


class SnmsLogin(msgspec.Struct):
    username: str
    password: str


class SnmsItem(msgspec.Struct, kw_only=True):
    handle: str
    value: list[dict[str, Any]] | None = None
    templateVersion: str | None = None


class SnmsHandle(msgspec.Struct):
    handle: str


SNMS_ITEMS = list[SnmsItem] | dict[str, list[SnmsItem]]
SNMS_HANDLES = list[SnmsHandle | str] | dict[str, list[SnmsHandle | str]]
# Bulk uploads are files: NDJSON lines of HandleWrite plus handle, CSV, or XLSX.
UPLOAD = {"type": "string", "format": "binary"}
UPLOAD_TYPES = (
    "application/x-ndjson",
    "text/csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/octet-stream",
)


class LifecycleChange(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The body of ``PATCH /api/handles/{handle}``: only what changes. Dates are
    Asia/Shanghai days (validUntil: through the end of that day); null clears an edge."""

    status: str | None = None  # active, suspended, revoked (final), expired
    reason: str | None = None
    validFrom: str | None = None
    validUntil: str | None = None


class LifecycleAnswer(msgspec.Struct, kw_only=True):
    handle: str
    status: str
    state: str  # what resolution answers now: the status, or expired / not_yet_valid
    since: str | None = None
    reason: str | None = None
    validFrom: str | None = None
    validUntil: str | None = None
    version: int | None = None


class LifecyclePolicy(msgspec.Struct, kw_only=True):
    """What the HTTP doors answer for a tenant's suspended / expired identifiers."""

    suspended: str  # refuse (403) or serve (with Identifier-Status)
    expired: str  # refuse (410) or serve


class UsageDay(msgspec.Struct):
    day: str
    resolutions: int
    ok: int


class IdentifierUsage(msgspec.Struct, kw_only=True):
    handle: str
    days: int
    total: int
    byDay: list[UsageDay]
