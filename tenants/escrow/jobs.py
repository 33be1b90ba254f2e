"""Periodic jobs of escrow (core.scheduler; docs/scheduling.md, docs/escrow.md).

A FULL weekly and a DIFF daily by default; each set is uploaded as soon as it is
written, and ``escrow-upload`` retries whatever is still waiting, oldest first. Nothing
runs without ``IDNEST_ESCROW_KEY``; nothing is uploaded without ``IDNEST_UPSTREAM_URL``.
"""

from __future__ import annotations

from core.errors import UpstreamError
from core.scheduler import periodic
from core.settings import Settings
from tenants.escrow.services import sets, upload


def _when(seconds: float, settings: Settings) -> float:
    return seconds if settings.escrow_key else 0


async def _write_and_upload(settings: Settings, *, full: bool) -> str:
    info = await sets.run(settings, full=full)
    summary = f"{info.kind} set {info.name}: {info.rows} rows, {info.changes} changes"
    if not settings.upstream_url:
        return summary
    try:
        sent = await upload.upload_pending(settings)
    except UpstreamError as exc:
        # The set is written and its row waits: escrow-upload sends it later.
        return f"{summary}; upload failed, will retry: {exc.detail}"
    return f"{summary}; {sent} set(s) uploaded"


@periodic("escrow-full", every=lambda s: _when(s.escrow_full_interval, s))
async def escrow_full(settings: Settings) -> str:
    return await _write_and_upload(settings, full=True)


@periodic("escrow-diff", every=lambda s: _when(s.escrow_diff_interval, s))
async def escrow_diff(settings: Settings) -> str:
    return await _write_and_upload(settings, full=False)


@periodic(
    "escrow-upload",
    every=lambda s: _when(s.escrow_upload_interval, s) if s.upstream_url else 0,
    retry_after=60.0,
)
async def escrow_upload(settings: Settings) -> str:
    return f"{await upload.upload_pending(settings)} set(s) uploaded"
