"""The resolution cache: one per process, shared by the HTTP and wire doors.

A record is cached as bytes, not as an object graph: the REST answer body (the public
values, which the JSON body also decodes back from), the non-public values in their
stored JSON form (only when there are any), the redirect target, and, filled by the wire
door on its first unfiltered answer, the public values in wire form. A public hit costs
a dictionary look-up and a write; the parsed values are decoded again (microseconds)
only for the rarer filtered or restricted reads. About 1.1 KB a record of ~600 bytes of
stored values, against ~3.4 KB as parsed objects (docs/scaling.md).

The cache is bounded in bytes (``IDNEST_RECORD_CACHE_MB``): every entry is charged its
encodings plus a fixed overhead for the key, the entry object and the dictionary slot,
and the least recently used entries go once the sum exceeds the bound.

Misses are cached briefly too, so a flood of unknown handles cannot reach the database
once each; a write of that handle still shows at once, because every write publishes
``rec:<key>`` on the invalidation bus.

A load that races with an invalidation must not put the old record back: each load
notes the invalidation generation before it reads, and stores only if none arrived.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec

from core.bus import FLUSH_ALL, InvalidationBus
from core.lifecycle import Lifecycle
from core.values import HandleValue, value_to_json

_json = msgspec.json.Encoder()


class _Body(msgspec.Struct):
    values: list[HandleValue]


# The REST body's values are HandleValue's own JSON shape (value_to_json), so it decodes
# back to them; the restricted ones are kept as (position in the record, value).
_body_decoder = msgspec.json.Decoder(_Body)
_hidden_decoder = msgspec.json.Decoder(list[tuple[int, HandleValue]])

# What an entry costs beyond its encodings: the key, the entry object, the dictionary
# slot and the LRU links (measured with tracemalloc; tests/resolver/test_cache_bytes.py).
RECORD_OVERHEAD = 400
MISSING_OVERHEAD = 200
LIFECYCLE_SIZE = 250  # a Lifecycle struct and its strings (core/lifecycle.py), roughly


@dataclass(slots=True)
class TenantInfo:
    id: int
    prefix: str
    status: str


class Record(msgspec.Struct, gc=False):
    """A resolvable record as its ready-made encodings (see the module docstring).

    Untracked by the garbage collector (no cycles; only strings and bytes), so a cache
    of a few hundred thousand records adds nothing to collection pauses.
    """

    tenant_id: int
    handle: str
    public_body: bytes
    # The values without public read, with their positions; None when all are public.
    hidden: bytes | None
    # The redirect target (first_url), UTF-8: what the proxy's Location header carries.
    location: bytes | None
    expires: float = float("inf")
    # The public values in Handle wire form (resolver.wire.codec.encode_values), filled
    # by the wire door on its first unfiltered resolution (RecordCache.wire_block).
    wire_public: bytes | None = None
    # Status and validity window (core/lifecycle.py), checked at answer time by every
    # door; None for a plain active record, which the fast paths answer as before.
    lifecycle: Lifecycle | None = None

    @property
    def public(self) -> tuple[HandleValue, ...]:
        return tuple(_body_decoder.decode(self.public_body).values)

    @property
    def values(self) -> tuple[HandleValue, ...]:
        public = _body_decoder.decode(self.public_body).values
        if self.hidden is None:
            return tuple(public)
        out = list(public)
        for at, value in _hidden_decoder.decode(self.hidden):
            out.insert(at, value)
        return tuple(out)

    @property
    def redirect(self) -> str | None:
        return None if self.location is None else self.location.decode("utf-8")

    @property
    def all_public(self) -> bool:
        return self.hidden is None

    def size(self, key: str) -> int:
        return (
            RECORD_OVERHEAD + len(key) + len(self.handle) + len(self.public_body)
            + len(self.hidden or b"") + len(self.wire_public or b"") + len(self.location or b"")
            + (LIFECYCLE_SIZE if self.lifecycle is not None else 0)
        )  # fmt: skip


class Missing(msgspec.Struct, gc=False):
    """A cached "no such handle" answer."""

    expires: float

    def size(self, key: str) -> int:
        return MISSING_OVERHEAD + len(key)


def encode_body(handle: str, values: Sequence[HandleValue]) -> bytes:
    rc = 1 if values else 200
    return _json.encode(
        {"responseCode": rc, "handle": handle, "values": [value_to_json(v) for v in values]}
    )


_REDIRECT_SCHEMES = ("http://", "https://", "ftp://")


def first_url(values: Sequence[HandleValue]) -> str | None:
    """The proxy's redirect target: the lowest-index URL value with a web scheme.

    Other schemes (``javascript:``, ``data:``) are never redirected to.
    """
    for v in sorted(values, key=lambda v: v.index):
        if v.type.upper() == "URL" and v.data.format == "string":
            url = str(v.data.value)
            if url.lower().startswith(_REDIRECT_SCHEMES):
                return url
    return None


def build_record(
    tenant_id: int,
    handle: str,
    values: Sequence[HandleValue],
    lifecycle: Lifecycle | None = None,
) -> Record:
    public = [v for v in values if v.public_read]
    hidden = [(at, v) for at, v in enumerate(values) if not v.public_read]
    url = first_url(public)
    return Record(
        tenant_id=tenant_id,
        handle=handle,
        public_body=encode_body(handle, public),
        hidden=_json.encode(hidden) if hidden else None,
        location=None if url is None else url.encode("utf-8"),
        lifecycle=lifecycle,
    )


class RecordCache:
    def __init__(
        self,
        bus: InvalidationBus,
        *,
        max_bytes: int,
        negative_ttl: float,
        backstop_ttl: float | None,
        fresh_seconds: float = 5.0,
    ) -> None:
        self.bus = bus
        self.max_bytes = max_bytes
        self.bytes = 0  # what the entries in _records are charged (Record.size)
        self.evictions = 0
        self.negative_ttl = negative_ttl
        # Without a shared bus, another process (the CLI) may write behind our back.
        self.backstop_ttl = backstop_ttl
        self.generation = 0
        self._records: OrderedDict[str, Record | Missing] = OrderedDict()
        # What the cache held when it lost its invalidation bus: never served as current
        # (another process may have written since), only by ``peek_stale`` when the
        # database is unreachable too. At most one cache's worth; dropped record by
        # record as the database answers again, whole on the next flush while connected.
        self._orphans: dict[str, Record | Missing] = {}
        self._tenants: dict[str, tuple[float, TenantInfo | None]] = {}
        self.hits = 0
        self.misses = 0
        self.stale_served = 0
        self.listeners: list[Callable[[str], None]] = []
        # Keys invalidated lately, and until when everything counts as written lately
        # (a flush: we do not know what changed). Misses on these read the primary.
        self.fresh_seconds = fresh_seconds
        self._written: dict[str, float] = {}
        self._written_all_until = 0.0
        bus.subscribe(self.on_invalidate)

    def _drop(self, key: str) -> None:
        entry = self._records.pop(key, None)
        if entry is not None:
            self.bytes -= entry.size(key)

    def _evict(self) -> None:
        # The newest entry stays even alone over the bound (the one just asked for).
        while self.bytes > self.max_bytes and len(self._records) > 1:
            old_key, old = self._records.popitem(last=False)
            self.bytes -= old.size(old_key)
            self.evictions += 1

    def _clear(self) -> None:
        self._records = OrderedDict()
        self.bytes = 0

    def on_invalidate(self, message: str) -> None:
        self.generation += 1
        self._note_written(message)
        if message.startswith("rec:"):
            self._drop(message[4:])
            self._orphans.pop(message[4:], None)
        elif message == FLUSH_ALL and not self.bus.connected:
            # The bus is lost (or being regained): keep the copies for serve-stale only.
            self._tenants.clear()
            self._orphans.update(self._records)
            self._clear()
        elif message.startswith("tenant:") or message == FLUSH_ALL:
            self._tenants.clear()
            self._clear()
            self._orphans.clear()
        for listener in self.listeners:
            listener(message)

    def _note_written(self, message: str) -> None:
        now = time.monotonic()
        if message.startswith("rec:") and len(self._written) < 100_000:
            self._written[message[4:]] = now + self.fresh_seconds
            return
        if message.startswith("key:"):
            return  # credentials: nothing a resolution reads
        # A flush, a tenant change, or more keys than worth remembering one by one.
        self._written_all_until = now + self.fresh_seconds
        self._written.clear()

    def written_recently(self, key: str) -> bool:
        """Whether a miss on this key must read the primary: the freshness rule with
        read replicas (core.pgha.Replicas), whose lag is kept under ``fresh_seconds``.
        Always true while the bus is lost: anything may have been written meanwhile."""
        self.bus.drain()
        now = time.monotonic()
        if not self.bus.connected or now < self._written_all_until:
            return True
        until = self._written.get(key)
        if until is None:
            return False
        if until < now:
            del self._written[key]
            if len(self._written) > 10_000:
                self._written = {k: t for k, t in self._written.items() if t >= now}
            return False
        return True

    def get(self, key: str) -> Record | Missing | None:
        """The cached answer for a handle key, or None when it must be loaded."""
        self.bus.drain()
        if not self.bus.connected:
            return None
        entry = self._records.get(key)
        if entry is None:
            return None
        if entry.expires < time.monotonic():
            self._drop(key)
            return None
        self._records.move_to_end(key)
        return entry

    def peek_stale(self, key: str) -> Record | None:
        """Whatever we hold for a key, however old: served only when the database is down."""
        entry = self._records.get(key) or self._orphans.get(key)
        return entry if isinstance(entry, Record) else None

    def put(self, key: str, entry: Record | Missing, generation: int) -> None:
        self._orphans.pop(key, None)  # the database has just answered for this key
        if generation != self.generation or not self.bus.connected:
            return
        if isinstance(entry, Record) and self.backstop_ttl is not None:
            entry.expires = time.monotonic() + self.backstop_ttl
        self._drop(key)
        self._records[key] = entry
        self.bytes += entry.size(key)
        self._evict()

    def wire_block(self, key: str, record: Record, encode: Callable[[Record], bytes]) -> bytes:
        """The record's public values in wire form, encoded once and kept (and charged,
        while the record is the cached one: an orphan's copy is not in the bound)."""
        block = record.wire_public
        if block is None:
            block = record.wire_public = encode(record)
            if self._records.get(key) is record:
                self.bytes += len(block)
                self._evict()
        return block

    def missing(self) -> Missing:
        return Missing(time.monotonic() + self.negative_ttl)

    def get_tenant(self, prefix_key: str) -> tuple[bool, TenantInfo | None]:
        hit = self._tenants.get(prefix_key)
        if hit is None or hit[0] < time.monotonic() or not self.bus.connected:
            return False, None
        return True, hit[1]

    def put_tenant(
        self, prefix_key: str, info: TenantInfo | None, ttl: float, generation: int
    ) -> None:
        if generation != self.generation:
            return
        if len(self._tenants) > 100_000:
            self._tenants.clear()
        self._tenants[prefix_key] = (time.monotonic() + ttl, info)

    def __len__(self) -> int:
        return len(self._records)
