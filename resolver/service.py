"""The read path: handle → prefix → tenant → record → filtered view.

Both doors (HTTP and the Handle wire protocol) call ``Resolver``; neither keeps a cache
of its own. Order of look-up: the in-process cache, then the database. If the database
is down, a cached record is served stale and counted, rather than failing the query.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from core import db
from core.auth import DEVICE_SCOPE, Principal
from core.errors import HandleGone, HandleNotFound, PrefixNotServedRead, ServiceUnavailable
from core.identifiers import Handle, fold, is_under, parse_handle
from core.lifecycle import status_now
from core.settings import Settings
from core.tenancy import tenant_transaction
from core.values import HandleValue, filter_values, load_values
from resolver import lifecycle
from resolver.adminhandle import admin_handle_text, admin_handle_values, is_admin_handle
from resolver.cache import Missing, Record, RecordCache, TenantInfo, build_record
from resolver.counters import ResolutionCounters
from resolver.loader import MissLoader, select_rows
from resolver.recursive import EnterpriseRouter, SelfDeployed, enterprise_prefix_values
from tenants.accounts.services.tenants import find_by_prefix
from tenants.accounts.tables import CLOSED_STATUSES, ERASED
from tenants.grants.services.access import grants_for

log = logging.getLogger("idnest.resolver")


# Errors that mean "the database is unreachable" (core.db), re-exported for the doors.
DB_ERRORS = db.UNREACHABLE_ERRORS
_PREFIX_NA = "0.na/"


@dataclass(frozen=True, slots=True)
class Query:
    indices: frozenset[int] = frozenset()
    types: tuple[str, ...] = ()
    public_only: bool = True
    authoritative: bool = False

    @property
    def filtered(self) -> bool:
        return bool(self.indices or self.types)


class Resolver:
    def __init__(self, cache: RecordCache, counters: ResolutionCounters, settings: Settings):
        self.cache = cache
        self.counters = counters
        self.node_prefix = fold(settings.node_prefix)
        self.tenant_ttl = settings.auth_cache_ttl
        self.negative_ttl = settings.negative_cache_ttl
        self.settings = settings
        # Self-deployed tenants (resolver.recursive): their routing and answers.
        self.enterprise = EnterpriseRouter(cache, counters, settings)
        self.loader = MissLoader(cache)

    async def tenant_for(self, prefix: str) -> TenantInfo | None:
        """The tenant serving a prefix or one of its parents (derived prefixes)."""
        key = fold(prefix)
        if not is_under(key, self.node_prefix):
            return None
        found, info = self.cache.get_tenant(key)
        if found:
            return info
        generation = self.cache.generation
        candidate = key
        info = None
        while is_under(candidate, self.node_prefix) and candidate != self.node_prefix:
            found_tenant = await find_by_prefix(candidate)
            if found_tenant is not None:
                info = TenantInfo(found_tenant.id, found_tenant.prefix, found_tenant.status)
                break
            candidate = candidate.rpartition(".")[0]
        ttl = self.tenant_ttl if info else self.negative_ttl
        self.cache.put_tenant(key, info, ttl, generation)
        return info

    async def lookup(
        self,
        handle_text: str,
        *,
        authoritative: bool = False,
        admit: bool = True,
        refer: bool = False,
    ) -> Record:
        """The record for a handle. Raises InvalidHandle, PrefixNotServedRead, HandleNotFound,
        and (unless ``admit`` is false: the wire door) the refusal of a record that is not
        active (resolver.lifecycle). A handle of a self-deployed tenant is asked of the
        enterprise's own servers (resolver.recursive), or with ``refer`` raises
        SelfDeployed (the wire door's referral)."""
        record = await self._lookup(handle_text, authoritative, refer)
        if admit and record.lifecycle is not None:
            lifecycle.admit(record)
        return record

    async def _lookup(self, handle_text: str, authoritative: bool, refer: bool = False) -> Record:
        handle = parse_handle(handle_text)
        key = handle.key
        if key.startswith(_PREFIX_NA):
            return await self._prefix_handle(handle, key)
        if not authoritative:
            entry = self.cache.get(key)
            if isinstance(entry, Record):
                self.cache.hits += 1
                self.counters.hit(entry.tenant_id)
                return entry
            if isinstance(entry, Missing):
                raise HandleNotFound(f"handle {handle.text} does not exist", handle=handle.text)
        self.cache.misses += 1
        try:
            return await self._load(handle, key, refer)
        except DB_ERRORS as exc:
            stale = self.cache.peek_stale(key)
            if stale is None:
                raise ServiceUnavailable(
                    "the registry database is unreachable and this handle is not cached"
                ) from exc
            self.cache.stale_served += 1
            log.warning("serving %s stale: database unreachable (%s)", key, exc)
            return stale

    async def _prefix_handle(self, handle: Handle, key: str) -> Record:
        """``0.NA/{prefix}``, synthesised for every tenant prefix (resolver.wire.nodesite).

        Cached like any record; a tenant change publishes ``tenant:``, which clears it.
        A prefix outside this node is PrefixNotServed (rc 301, "not responsible").
        """
        from resolver.wire.nodesite import prefix_values

        entry = self.cache.get(key)
        if isinstance(entry, Record):
            self.cache.hits += 1
            return entry
        generation = self.cache.generation
        prefix = handle.suffix
        tenant = await self.tenant_for(prefix) if "/" not in prefix else None
        if (
            tenant is None
            or tenant.status in CLOSED_STATUSES
            or fold(tenant.prefix) != fold(prefix)
        ):
            if not is_under(fold(prefix), self.node_prefix) or fold(prefix) == self.node_prefix:
                raise PrefixNotServedRead(
                    f"prefix {prefix} is not served here; this node serves {self.node_prefix}.*",
                    handle=handle.text,
                )
            raise HandleNotFound(
                f"prefix {prefix} is not allocated on this node", handle=handle.text
            )
        site = await self.enterprise.site_for(tenant.id, tenant.prefix)
        values = (
            prefix_values(self.settings, tenant.prefix)
            if site is None
            else enterprise_prefix_values(self.settings, tenant.prefix, site)
        )
        record = build_record(tenant.id, f"0.NA/{tenant.prefix}", values)
        self.cache.put(key, record, generation)
        return record

    async def _load(self, handle: Handle, key: str, refer: bool = False) -> Record:
        generation = self.cache.generation
        tenant = await self.tenant_for(handle.prefix)
        if tenant is None:
            if not is_under(handle.prefix, self.node_prefix):
                raise PrefixNotServedRead(
                    f"prefix {handle.prefix} is not served here; this node serves "
                    f"{self.node_prefix}.*",
                    handle=handle.text,
                )
            raise HandleNotFound(
                f"prefix {handle.prefix} is not allocated on this node", handle=handle.text
            )
        if tenant.status == ERASED:
            raise HandleGone(
                f"handle {handle.text} is gone: its tenant's data was erased", handle=handle.text
            )
        if tenant.status == "closed":
            raise HandleNotFound(f"handle {handle.text} does not exist", handle=handle.text)
        site = await self.enterprise.site_for(tenant.id, tenant.prefix)
        if site is not None:
            if refer:
                raise SelfDeployed(tenant.prefix, site)
            return await self.enterprise.resolve(handle, tenant.id, site)
        row = await self._read(tenant.id, key, generation)
        if row is None and is_admin_handle(handle, tenant.prefix):
            # Not stored yet: the tenant's admin handle still resolves (resolver.adminhandle).
            text = admin_handle_text(tenant.prefix)
            record = build_record(tenant.id, text, admin_handle_values(tenant.prefix))
            self.cache.put(key, record, generation)
            self.counters.hit(tenant.id)
            return record
        if row is None:
            self.cache.put(key, self.cache.missing(), generation)
            self.counters.not_found(tenant.id)
            raise HandleNotFound(f"handle {handle.text} does not exist", handle=handle.text)
        state = await lifecycle.lifecycle_of(tenant.id, row)
        record = build_record(tenant.id, row["handle"], load_values(row["values"]), state)
        self.cache.put(key, record, generation)
        self.counters.hit(tenant.id)
        return record

    async def _read(self, tenant_id: int, key: str, generation: int) -> dict[str, Any] | None:
        """The stored row, batched with concurrent misses (resolver.loader): from a fresh
        read replica unless the key (or everything) was invalidated in the last
        ``replica_fresh_seconds``, which go to the primary."""
        if db.engine().current_transaction.get() is not None:
            # Inside a transaction of its own (a write that resolves) the caller reads there.
            async with tenant_transaction(tenant_id, write=False):
                rows = await select_rows(tenant_id, [key])
            return rows[0] if rows else None
        return await self.loader.read(tenant_id, key, generation)

    def may_read_restricted(self, record: Record, principal: Principal | None) -> bool:
        return (
            principal is not None
            and principal.tenant_id == record.tenant_id
            and principal.can("read")
        )

    async def view_for(
        self, record: Record, query: Query, principal: Principal | None, *, status: bool = False
    ) -> list[HandleValue]:
        """``view``, and for a partner of the record's tenant what its grants reveal
        (tenants.grants). Anonymous and owner reads never look grants up. ``status`` (the
        wire door): a record with lifecycle data leads with its HS_STATUS value."""
        values = await self._view_for(record, query, principal)
        if status and values and record.lifecycle is not None:
            values = [status_now(record.lifecycle), *values]
        return values

    async def _view_for(
        self, record: Record, query: Query, principal: Principal | None
    ) -> list[HandleValue]:
        if (
            query.public_only
            or principal is None
            or not (principal.can("read") or principal.can(DEVICE_SCOPE))
            or self.may_read_restricted(record, principal)
        ):
            return self.view(record, query, principal)
        try:
            grants = await grants_for(record.tenant_id, principal)
        except DB_ERRORS:
            log.warning("grants unreadable (database unreachable): public values only")
            grants = None
        if grants is None:
            return self.view(record, query, principal)
        return filter_values(
            grants.reveal(record.handle, record.values),
            indices=query.indices or None,
            types=query.types or None,
            public_only=False,
        )

    def view(self, record: Record, query: Query, principal: Principal | None) -> list[HandleValue]:
        public_only = query.public_only or not self.may_read_restricted(record, principal)
        if public_only and not query.filtered:
            return list(record.public)
        return filter_values(
            list(record.values),
            indices=query.indices or None,
            types=query.types or None,
            public_only=public_only,
        )
