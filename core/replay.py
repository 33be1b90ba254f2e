"""One more run of a write request whose transaction lost the primary before COMMIT, or
was rolled back by the server to break a deadlock.

The HTTP request is the unit of work every write door shares (REST, SNMS, console), so
this is where a transaction can be run again from the start: ``core.pgha`` marks the
attempt when a transaction failed before COMMIT was sent, and counts the commits. The
request is run once more, after ``failover_retry_delay``, only when

- it failed with the 503 that such a failure maps to (``core.http``),
- a transaction in it lost the primary before COMMIT, or was a deadlock's victim (so
  nothing of it is stored), and
- no transaction of it committed (a second run would repeat that one),
- and its body was small enough to keep (``REPLAY_BODY_MAX``).

The answer of the first run is held back until that is decided; nothing of it reaches
the client when the request runs again. Safe methods pass straight through.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from core import pgha

log = logging.getLogger("idnest.db")

REPLAY_BODY_MAX = 1 << 20
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})

Scope = dict[str, Any]
Message = dict[str, Any]


class ReplayOnFailover:
    def __init__(self, app: Any, delay: float) -> None:
        self.app = app
        self.delay = delay
        self.replayed = 0

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in _SAFE:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more and size <= REPLAY_BODY_MAX:
            message = await receive()
            if message["type"] != "http.request":
                # The client left before sending its body: nothing to run.
                await self.app(scope, _replaying(chunks, receive, [message]), send)
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
        if more:  # too large to keep: one run, the rest of the body read as it comes
            await self.app(scope, _replaying(chunks, receive, [], more=True), send)
            return
        if await self._run(scope, chunks, receive, send, last=False):
            return
        self.replayed += 1
        log.warning("%s %s lost the primary before COMMIT; running it again",
                    scope["method"], scope.get("path"))  # fmt: skip
        await asyncio.sleep(self.delay)
        await self._run(scope, chunks, receive, send, last=True)

    async def _run(self, scope: Scope, chunks: list[bytes], receive: Any, send: Any,
                   *, last: bool) -> bool:  # fmt: skip
        """One run; False when its answer was held back because it is to run again."""
        attempt, token = pgha.begin_attempt()
        held = False

        async def guarded(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start" and not last:
                held = (
                    message["status"] == 503 and attempt.lost_before_commit and attempt.commits == 0
                )
            if not held:
                await send(message)

        try:
            await self.app(scope, _replaying(chunks, receive, []), guarded)
        finally:
            pgha.end_attempt(token)
        return not held


def _replaying(chunks: list[bytes], receive: Any, pending: list[Message],
               *, more: bool = False) -> Any:  # fmt: skip
    """A receive() that gives the kept body again, then whatever the client sends next."""
    queue: list[Message] = [
        {"type": "http.request", "body": b"".join(chunks), "more_body": more},
        *pending,
    ]

    async def replay() -> Message:
        if queue:
            return queue.pop(0)
        return await receive()

    return replay
