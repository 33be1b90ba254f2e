"""Prebuilt answers: a cached public resolution answered as bytes, with only the request's
ids patched in (issue 18's wire hit path).

The request's bytes, without session id, request id and expiration, key a template; it is
kept only after the same bytes decoded fully, so a match needs no second decode. The
answer depends on nothing else (RRDG requests, whose digest covers the expiration, are not
kept). A template is valid while the cache still holds the very same Record object (every
invalidation replaces or drops it) and for 60 s (the answer's own expiration stamp). UDP
and TCP keep separate tables: the fast path's conditions differ between them
(``WireServer.fast``).
"""

from __future__ import annotations

import time

from resolver.cache import Record, RecordCache
from resolver.counters import ResolutionCounters
from resolver.wire.constants import OpFlag
from resolver.wire.message import Message

MAX_TEMPLATES = 100_000  # per table and process (cleared when full)
TEMPLATE_LIFETIME = 60.0  # seconds: the answers' own expiration stamp
_RRDG = int(OpFlag.RRDG)


def _request_key(data: bytes) -> bytes:
    return data[:4] + data[12:36] + data[40:]


class AnswerTemplates:
    def __init__(self, max_answer: int) -> None:
        self.max_answer = max_answer  # longer answers are not kept
        self._by_request: dict[bytes, tuple[str, Record, bytes, bytes, float]] = {}

    def __len__(self) -> int:
        return len(self._by_request)

    def keep(self, data: bytes, msg: Message, reply: bytes, key: str, record: Record) -> None:
        """Keep ``reply`` (the fast path's answer from ``record``) for requests like
        ``data``."""
        if (msg.header.op_flags & _RRDG or len(reply) > self.max_answer
                or len(data) < 60 or reply[24:28] != b"\x00\x00\x00\x01"):  # fmt: skip
            return
        if len(self._by_request) >= MAX_TEMPLATES:
            self._by_request.clear()
        self._by_request[_request_key(data)] = (
            key, record, reply[:4], reply[12:], time.monotonic()
        )  # fmt: skip

    def answer(
        self, data: bytes, cache: RecordCache, counters: ResolutionCounters
    ) -> tuple[str, bytes] | None:
        """(handle key, answer) for a request like one kept, if still valid; counted as a
        cache hit, as the fast path counts it."""
        if len(data) < 60:
            return None
        tkey = _request_key(data)
        template = self._by_request.get(tkey)
        if template is None:
            return None
        key, record, head, tail, born = template
        if cache.get(key) is record and time.monotonic() - born < TEMPLATE_LIFETIME:
            cache.hits += 1
            counters.hit(record.tenant_id)
            return key, head + data[4:12] + tail
        del self._by_request[tkey]
        return None
