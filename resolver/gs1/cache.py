"""The schemes' resolution cache: namespace owners, GS1 link sets, code bindings.

It rides on the record cache's invalidation stream (``RecordCache.listeners``), so
there is one bus; a load that races with an invalidation is not stored, exactly as for
records (with a generation counter of its own that record writes do not move). Messages:

- ``ns:<scheme>``: a namespace was claimed, verified or rejected (owners reload);
- ``gs1:<primary key path>``: links or codes under that GS1 key changed;
- ``code:<scheme>:<code>``: an OID / Ecode / VAA code was bound or unbound;
- ``tenant:...`` and ``*``: everything goes.

GS1 entries are keyed by the request path exactly as received, so a cached redirect
costs one dictionary look-up; every spelling of a key is filed under its primary key
path for invalidation. Misses are cached for the negative TTL.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from core.settings import get_settings
from core.tenancy import cross_tenant, tenant_transaction
from resolver.cache import Missing, RecordCache
from tenants.accounts.tables import Tenant
from tenants.schemes.services.codes import handle_for
from tenants.schemes.tables import GS1Item, GS1Link, SchemeNamespace

_NS_TTL = 60.0


@dataclass(slots=True)
class Link:
    link_type: str
    href: str
    title: str
    language: str
    context: str
    media_type: str
    is_default: bool


@dataclass(slots=True)
class GS1Entry:
    """Links for one request path: levels from the most specific with links up to the
    primary key. `plain` is the ready-made answer to a GET with no query string."""

    tenant_id: int
    levels: list[tuple[str, list[Link]]]
    plain_headers: list[tuple[bytes, bytes]] | None = None
    # True when Accept-Language and Accept cannot change the plain answer.
    plain_any_header: bool = False
    expires: float = float("inf")
    # Filled on the first linkset request (redirects never need them): the tenant's
    # name and the item descriptions of every walk-up path.
    items: Items | None = None


@dataclass(frozen=True, slots=True)
class Items:
    tenant_name: str
    descriptions: dict[str, str]


@dataclass(slots=True)
class Bound:
    tenant_id: int
    handle: str
    expires: float = float("inf")


class SchemeCache:
    def __init__(self, records: RecordCache, *, max_size: int, negative_ttl: float) -> None:
        self.records = records
        self.bus = records.bus
        self.max_size = max_size
        self.negative_ttl = negative_ttl
        self.backstop_ttl = records.backstop_ttl
        self._owners: dict[str, dict[str, int]] | None = None
        self._owners_expire = 0.0
        # request path -> (entry, its primary key path, for the invalidation index)
        self._gs1: OrderedDict[str, tuple[GS1Entry | Missing, str]] = OrderedDict()
        self._by_primary: dict[str, set[str]] = {}
        self._codes: dict[tuple[str, str], Bound | Missing] = {}
        self._generation = 0
        self.hits = 0
        self.misses = 0
        records.listeners.append(self.on_invalidate)

    # -- invalidation -------------------------------------------------------------
    def on_invalidate(self, message: str) -> None:
        if message.startswith("rec:"):
            return  # records are the record cache's; our entries do not embed them
        self._generation += 1
        if message.startswith("gs1:"):
            for path in self._by_primary.pop(message[4:], ()):
                self._gs1.pop(path, None)
        elif message.startswith("code:"):
            _, scheme, code = message.split(":", 2)
            self._codes.pop((scheme, code), None)
        elif message.startswith("ns:"):
            self._owners = None
            if message == "ns:gs1":
                self._drop_gs1()
            else:
                scheme = message[3:]
                for key in [k for k in self._codes if k[0] == scheme]:
                    del self._codes[key]
        elif message.startswith("tenant:") or message == "*":
            self._owners = None
            self._drop_gs1()
            self._codes.clear()

    def _drop_gs1(self) -> None:
        self._gs1.clear()
        self._by_primary.clear()

    @property
    def generation(self) -> int:
        """Bumped by every message that may change our entries (not by record writes,
        which are frequent and irrelevant here, so busy registration never starves
        this cache of stores)."""
        return self._generation

    # -- namespace owners ---------------------------------------------------------
    async def owners(self, scheme: str) -> dict[str, int]:
        """Verified namespace value → tenant id, for one scheme (closed tenants out)."""
        self.bus.drain()
        owners = self._owners
        if owners is None or self._owners_expire < time.monotonic() or not self.bus.connected:
            generation = self.generation
            # Which tenant owns a namespace is what public resolution starts from.
            async with cross_tenant("resolver"):
                rows = await SchemeNamespace.select(
                    SchemeNamespace.scheme,
                    SchemeNamespace.value,
                    SchemeNamespace.tenant_id,
                    SchemeNamespace.tenant_id.status.as_alias("tenant_status"),
                ).where(SchemeNamespace.status == "verified")
            owners = {}
            for r in rows:
                if r["tenant_status"] not in ("closed", "erased"):
                    owners.setdefault(r["scheme"], {})[r["value"]] = r["tenant_id"]
            if generation == self.generation:
                self._owners = owners
                self._owners_expire = time.monotonic() + (self.backstop_ttl or _NS_TTL)
        return owners.get(scheme, {})

    async def owner_by_prefix(self, scheme: str, code: str, *, sep: str = "") -> int | None:
        """The tenant whose namespace `code` lies strictly under. With `sep` (OIDs) only
        whole arcs count."""
        owners = await self.owners(scheme)
        if sep:
            arcs = code.split(sep)
            for n in range(len(arcs) - 1, 0, -1):
                found = owners.get(sep.join(arcs[:n]))
                if found is not None:
                    return found
            return None
        for n in range(len(code) - 1, 0, -1):
            found = owners.get(code[:n])
            if found is not None:
                return found
        return None

    # -- GS1 link sets ------------------------------------------------------------
    def get_gs1(self, path: str) -> GS1Entry | Missing | None:
        self.bus.drain()
        if not self.bus.connected:
            return None
        hit = self._gs1.get(path)
        if hit is None:
            return None
        if hit[0].expires < time.monotonic():
            self._forget(path)
            return None
        return hit[0]

    def _forget(self, path: str) -> None:
        hit = self._gs1.pop(path, None)
        if hit is not None:
            paths = self._by_primary.get(hit[1])
            if paths is not None:
                paths.discard(path)
                if not paths:
                    del self._by_primary[hit[1]]

    def put_gs1(self, path: str, primary: str, entry: GS1Entry | Missing, generation: int) -> None:
        if generation != self.generation or not self.bus.connected:
            return
        if isinstance(entry, GS1Entry) and self.backstop_ttl is not None:
            entry.expires = time.monotonic() + self.backstop_ttl
        self._gs1[path] = (entry, primary)
        self._by_primary.setdefault(primary, set()).add(path)
        while len(self._gs1) > self.max_size:
            self._forget(next(iter(self._gs1)))

    def missing(self) -> Missing:
        return Missing(time.monotonic() + self.negative_ttl)

    async def load_links(self, tenant_id: int, paths: list[str]) -> list[tuple[str, list[Link]]]:
        async with tenant_transaction(tenant_id, write=False):
            rows = await self._link_rows(tenant_id, paths)
        by_path: dict[str, list[Link]] = {}
        for r in rows:
            by_path.setdefault(r["key_path"], []).append(
                Link(
                    r["link_type"],
                    r["href"],
                    r["title"],
                    r["language"],
                    r["context"],
                    r["media_type"],
                    bool(r["is_default"]),
                )
            )
        return [(p, by_path[p]) for p in paths if p in by_path]

    async def _link_rows(self, tenant_id: int, paths: list[str]) -> list[dict[str, Any]]:
        return (
            await GS1Link.select(
                GS1Link.key_path,
                GS1Link.link_type,
                GS1Link.href,
                GS1Link.title,
                GS1Link.language,
                GS1Link.context,
                GS1Link.media_type,
                GS1Link.is_default,
            )
            .where((GS1Link.tenant_id == tenant_id) & GS1Link.key_path.is_in(paths))
            .order_by(GS1Link.id)
            .run()
        )

    async def load_items(self, tenant_id: int, paths: list[str]) -> Items:
        """The tenant's name and its descriptions of `paths`, for linksets."""
        tenant = await Tenant.select(Tenant.name).where(Tenant.id == tenant_id).first()
        async with tenant_transaction(tenant_id, write=False):
            rows = await GS1Item.select(GS1Item.key_path, GS1Item.description).where(
                (GS1Item.tenant_id == tenant_id) & GS1Item.key_path.is_in(paths)
            )
        return Items(
            tenant["name"] if tenant else "", {r["key_path"]: r["description"] for r in rows}
        )

    # -- OID / Ecode / VAA bindings ------------------------------------------------
    async def bound(self, scheme: str, code: str) -> Bound | None:
        """The tenant and handle a public code is bound to, or None."""
        self.bus.drain()
        key = (scheme, code)
        entry = self._codes.get(key) if self.bus.connected else None
        if entry is not None and entry.expires >= time.monotonic():
            self.hits += 1
            return entry if isinstance(entry, Bound) else None
        self.misses += 1
        generation = self.generation
        tenant_id = await self.owner_by_prefix(scheme, code, sep="." if scheme == "oid" else "")
        found: Bound | Missing = self.missing()
        if tenant_id is not None:
            handle = await handle_for(tenant_id, scheme, code)
            if handle is not None:
                found = Bound(tenant_id, handle)
                if self.backstop_ttl is not None:
                    found.expires = time.monotonic() + self.backstop_ttl
        if generation == self.generation and self.bus.connected:
            if len(self._codes) > self.max_size:
                self._codes.clear()
            self._codes[key] = found
        return found if isinstance(found, Bound) else None


_caches: WeakKeyDictionary[RecordCache, SchemeCache] = WeakKeyDictionary()


def scheme_cache(records: RecordCache) -> SchemeCache:
    """The one SchemeCache beside a resolver's record cache (one per process)."""
    cache = _caches.get(records)
    if cache is None:
        s = get_settings()
        cache = SchemeCache(records, max_size=s.gs1_cache_size, negative_ttl=s.negative_cache_ttl)
        _caches[records] = cache
    return cache
