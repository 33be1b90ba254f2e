"""Uploading escrow sets to the top-level node, oldest first, none skipped.

Each ``written`` set is sent file by file (streamed) and then its manifest, so the
top-level node holds a set once its manifest arrives; the row is marked ``uploaded``
only after that. A failure stops the round at that set (a later set is never sent
before an earlier one) and records the error; the next round starts again from it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from core import upstream
from core.errors import UpstreamError
from core.settings import Settings
from core.tables import EscrowSet


async def upload_pending(settings: Settings) -> int:
    rows = (
        await EscrowSet.select().where(EscrowSet.status == "written").order_by(EscrowSet.id).run()
    )
    done = 0
    for row in rows:
        try:
            await upstream.upload_escrow_set(settings, row["path"], settings.node_prefix)
        except UpstreamError as exc:
            await EscrowSet.update({
                EscrowSet.attempts: EscrowSet.attempts + 1,
                EscrowSet.last_error: exc.detail[:1024],
            }).where(EscrowSet.id == row["id"]).run()  # fmt: skip
            raise
        await EscrowSet.update({
            EscrowSet.status: "uploaded", EscrowSet.uploaded_at: datetime.now(UTC),
            EscrowSet.attempts: EscrowSet.attempts + 1, EscrowSet.last_error: "",
        }).where(EscrowSet.id == row["id"]).run()  # fmt: skip
        done += 1
    return done
