"""The embedded database under cancellation: a stopped writer must not keep the lock."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime

import pytest

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        os.environ.get("IDNEST_TEST_PROFILE", "embedded") != "embedded",
        reason="SQLite's single write lock (embedded profile)",
    ),
]


async def _write(note: str) -> None:
    from core import db
    from core.tables import ScheduledJob

    async with db.write_transaction():
        await ScheduledJob.delete().where(ScheduledJob.name == note).run()


async def test_writer_cancelled_while_waiting_for_the_lock_does_not_keep_it() -> None:
    """A request cancelled while BEGIN IMMEDIATE waits (its client hung up) used to leave
    a connection holding the write lock once BEGIN went through: every later write in
    the node then failed with "database is locked" until a restart."""
    from core import db

    holding = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with db.write_transaction():
            holding.set()
            await release.wait()

    held = asyncio.create_task(holder())
    await holding.wait()
    waiting = asyncio.create_task(_write("waiter"))
    await asyncio.sleep(0.2)  # it is now inside BEGIN IMMEDIATE, on aiosqlite's thread
    waiting.cancel()
    release.set()
    await held
    # Held on to, as a cancelled task's error is by whoever awaited it: its traceback
    # keeps the transaction, and a connection left open, alive.
    with pytest.raises(asyncio.CancelledError) as cancelled:
        await waiting
    await asyncio.sleep(0.5)  # time for a leaked BEGIN to go through and keep the lock
    # Were the cancelled writer's connection still open, holding the lock, this would
    # wait out the busy timeout and fail.
    await asyncio.wait_for(_write("after"), timeout=5)
    assert cancelled.traceback


async def test_writer_cancelled_inside_its_transaction_rolls_back_and_lets_go() -> None:
    from core import db
    from core.tables import ScheduledJob

    inside = asyncio.Event()

    async def writer() -> None:
        async with db.write_transaction():
            await ScheduledJob.insert(
                ScheduledJob(name="never-committed", due_at=datetime.now(UTC))
            ).run()
            inside.set()
            await asyncio.sleep(60)

    task = asyncio.create_task(writer())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(_write("after"), timeout=5)
    assert not await ScheduledJob.exists().where(ScheduledJob.name == "never-committed").run()
