"""What the exports API answers (msgspec; camelCase on the wire). The handlers build
these, so the OpenAPI states what is sent."""

from __future__ import annotations

from datetime import datetime

import msgspec


class Progress(msgspec.Struct):
    rows: int
    total: int
    percent: int


class ExportOut(msgspec.Struct, rename="camel"):
    """An export job: ``download`` is the link once it is done (it needs the same
    tenant's credentials, and expires at ``expiresAt``)."""

    id: str
    status: str  # queued, running, done, failed, expired
    progress: Progress
    size: int
    error: str | None
    created_at: datetime
    expires_at: datetime | None
    download: str | None


class ExportList(msgspec.Struct):
    exports: list[ExportOut]
