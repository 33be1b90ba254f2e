"""Resolution of a self-deployed tenant's handles: refer Handle clients, recurse for HTTP.

A self-deployed tenant (tenants/enterprise) stores its identifiers on its own Handle
servers. The wire door answers a query under its prefix with SERVICE_REFERRAL (rc 302)
carrying ``0.NA/{prefix}``'s HS_SITE (clients older than protocol 2.10, which cannot
read a 302, get SERVER_NOT_RESP and use that HS_SITE directly). HTTP clients (REST, proxy,
a scanner's browser) cannot follow a referral, so for them this node asks the
enterprise's servers itself over the wire protocol, with the existing client
(resolver.wire.client): UDP first, then TCP (on truncation, or when UDP got no answer),
each server in turn, all within ``IDNEST_ENTERPRISE_TIMEOUT``.

Answers are cached here, not in the record cache (which the HTTP fast path and the
wire door serve from, and which would turn the wire door's referral into an answer):
fresh for the smallest TTL among the values (capped by
``IDNEST_ENTERPRISE_CACHE_MAX_TTL``), then kept ``IDNEST_ENTERPRISE_STALE_TTL`` more
seconds to be served stale while the enterprise does not answer. With nothing to stand
in, a silent enterprise is 504 (EnterpriseNodeTimeout) and one that answered garbage,
an error of its own or referrals past ``IDNEST_ENTERPRISE_MAX_REFERRALS`` (a loop) is
502 (EnterpriseNodeError). Concurrent misses on one handle share one question. Nothing
here blocks the event loop, and nothing writes to the database.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from core.bus import FLUSH_ALL
from core.errors import EnterpriseNodeError, EnterpriseNodeTimeout, HandleNotFound, IdnestError
from core.identifiers import Handle
from core.metrics import METER, Labels
from core.settings import Settings
from core.values import HandleValue, ValueData
from resolver.cache import Record, RecordCache, build_record
from resolver.counters import ResolutionCounters
from resolver.wire import client, codec
from resolver.wire.constants import ResponseCode
from resolver.wire.message import Envelope, Header
from resolver.wire.nodesite import SITE_INDEX, prefix_values
from resolver.wire.reader import ProtocolError
from tenants.enterprise.services.servers import servers_of, site_json

log = logging.getLogger("idnest.recursive")
_REFERRALS = (ResponseCode.SERVICE_REFERRAL, ResponseCode.PREFIX_REFERRAL)
_MAX_SITES = 100_000
# The oldest protocol version sent a SERVICE_REFERRAL (older clients: SERVER_NOT_RESP).
REFERRAL_VERSION = (2, 10)


class SelfDeployed(IdnestError):
    """The handle's tenant answers for itself: the wire door refers the client (an
    IdnestError so that the wire door's one error branch sees it; no HTTP door does)."""

    rc = ResponseCode.SERVICE_REFERRAL
    http_status = 502

    def __init__(self, prefix: str, site: dict[str, Any]) -> None:
        super().__init__(f"prefix {prefix} is served by its own servers")
        self.prefix_handle = f"0.NA/{prefix}"
        self.values = [site_value(site)]

    def referral(self, envelope: Envelope, header: Header, digest: bytes) -> bytes:
        """SERVICE_REFERRAL naming ``0.NA/{prefix}`` with its HS_SITE, as clients of
        protocol 2.10 and later read it (China's IDPointer SDK among them).

        An older client gets SERVER_NOT_RESP instead: CNRI's 2006 hdllib (protocol 2.1)
        fails on a 302 ("Unknown responseCode: 302", an exception rather than an answer)
        and finds a prefix's servers from ``0.NA/{prefix}``'s HS_SITE anyway
        (tests/enterprise/test_self_deployed.py runs it)."""
        if (envelope.major, envelope.minor) < REFERRAL_VERSION:
            message = (f"{self.prefix_handle[5:]} is served by its own servers: "
                       f"resolve {self.prefix_handle} for their HS_SITE")  # fmt: skip
            return codec.encode_error_response(
                envelope, header, ResponseCode.SERVER_NOT_RESP, message, digest=digest
            )
        block = codec.encode_values(self.values)
        handle = self.prefix_handle.encode("utf-8")
        return codec.encode_referral(envelope, header, handle, block, digest=digest)


def site_value(site: dict[str, Any]) -> HandleValue:
    return HandleValue(SITE_INDEX, "HS_SITE", ValueData("site", site), 86400,
                       "1970-01-01T00:00:00Z", "1110")  # fmt: skip


def enterprise_prefix_values(
    settings: Settings, prefix: str, site: dict[str, Any]
) -> list[HandleValue]:
    """``0.NA/{prefix}`` of a self-deployed tenant: the enterprise's HS_SITE in place of
    this node's; the admin values stay (this node still administers the prefix)."""
    values = prefix_values(settings, prefix)
    return [site_value(site) if v.index == SITE_INDEX else v for v in values]


@dataclass(slots=True)
class _Entry:
    record: Record | None  # None: the enterprise said the handle does not exist
    fresh_until: float
    stale_until: float


def _endpoints(site: dict[str, Any]) -> list[tuple[str, int | None, int | None]]:
    """(address, UDP port, TCP port) of each server that takes queries."""
    out = []
    for server in site.get("servers", [])[:16]:
        ports: dict[str, int] = {}
        for i in server.get("interfaces", []):
            if i.get("query") and i.get("protocol") in ("UDP", "TCP"):
                ports.setdefault(i["protocol"], int(i.get("port", 2641)))
        if ports and isinstance(server.get("address"), str):
            out.append((server["address"], ports.get("UDP"), ports.get("TCP")))
    return out


class EnterpriseRouter:
    """Which tenants are self-deployed (their HS_SITE), and their answers, per process."""

    def __init__(
        self, cache: RecordCache, counters: ResolutionCounters, settings: Settings
    ) -> None:
        self.counters = counters
        self.settings = settings
        self.site_ttl = settings.auth_cache_ttl  # backstop when no bus carries tenant:
        self._sites: dict[int, tuple[float, dict[str, Any] | None]] = {}
        self._records: OrderedDict[str, _Entry] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[_Entry]] = {}
        self.asked = self.stale_served = self.timeouts = self.bad_answers = 0
        cache.listeners.append(self.on_invalidate)
        METER.add_source("enterprise", self.metric_values)

    def metric_values(self) -> list[tuple[str, Labels, float]]:
        return [
            ("idnest_enterprise_queries_total", (), self.asked),
            ("idnest_enterprise_stale_served_total", (), self.stale_served),
            ("idnest_enterprise_timeouts_total", (), self.timeouts),
            ("idnest_enterprise_bad_answers_total", (), self.bad_answers),
        ]

    def on_invalidate(self, message: str) -> None:
        # A tenant change may be a change of servers or of deployment: forget routing
        # and answers alike. A record write (rec:) changes nothing here.
        if message.startswith("tenant:") or message == FLUSH_ALL:
            self._sites.clear()
            self._records.clear()

    async def site_for(self, tenant_id: int, prefix: str) -> dict[str, Any] | None:
        """The tenant's HS_SITE when it is self-deployed, else None (cached)."""
        now = time.monotonic()
        hit = self._sites.get(tenant_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        servers = await servers_of(tenant_id)
        site = site_json(servers, prefix) if servers else None
        if len(self._sites) >= _MAX_SITES:
            self._sites.clear()
        self._sites[tenant_id] = (now + self.site_ttl, site)
        return site

    async def resolve(self, handle: Handle, tenant_id: int, site: dict[str, Any]) -> Record:
        """The enterprise's public record for ``handle`` (cached; stale while it is down)."""
        key = handle.key
        now = time.monotonic()
        entry = self._records.get(key)
        if entry is None or entry.fresh_until <= now:
            entry = await self._refresh(handle, tenant_id, site, entry)
        if entry.record is None:
            self.counters.not_found(tenant_id)
            raise HandleNotFound(f"handle {handle.text} does not exist", handle=handle.text)
        self.counters.hit(tenant_id)
        return entry.record

    async def _refresh(
        self, handle: Handle, tenant_id: int, site: dict[str, Any], old: _Entry | None
    ) -> _Entry:
        """A new answer; or, when the enterprise cannot give one, the old answer while it
        is within its stale window (serve-stale)."""
        key = handle.key
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._ask(handle, tenant_id, site))
            self._inflight[key] = task
            task.add_done_callback(lambda t: self._done(key, t))
        try:
            # Shielded: a caller that gives up does not cancel the others' question.
            return await asyncio.shield(task)
        except (EnterpriseNodeError, EnterpriseNodeTimeout) as exc:
            if old is None or old.stale_until <= time.monotonic():
                raise
            self.stale_served += 1
            log.warning("serving %s stale: %s", key, exc.detail)
            return old

    def _done(self, key: str, task: asyncio.Task[_Entry]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if task.cancelled() or task.exception() is not None:
            return  # (exception() also marks it retrieved when every waiter left)
        self._store(key, task.result())

    def _store(self, key: str, entry: _Entry) -> None:
        self._records[key] = entry
        self._records.move_to_end(key)
        while len(self._records) > self.settings.enterprise_cache_size:
            self._records.popitem(last=False)

    async def _ask(self, handle: Handle, tenant_id: int, site: dict[str, Any]) -> _Entry:
        deadline = time.monotonic() + self.settings.enterprise_timeout
        for _depth in range(self.settings.enterprise_max_referrals + 1):
            rc, result = await self._query(handle.text, site, deadline)
            now = time.monotonic()
            if rc == ResponseCode.SUCCESS and isinstance(result, list):
                record = build_record(tenant_id, handle.text, result)
                ttl = min((max(v.ttl, 0) for v in result), default=0)
                fresh = now + min(ttl, self.settings.enterprise_cache_max_ttl)
                return _Entry(record, fresh, fresh + self.settings.enterprise_stale_ttl)
            if rc == ResponseCode.HANDLE_NOT_FOUND:
                fresh = now + self.settings.negative_cache_ttl
                return _Entry(None, fresh, fresh)
            if rc in _REFERRALS and isinstance(result, list):
                sites = [v.data.value for v in result if v.data.format == "site"]
                if not sites or not isinstance(sites[0], dict):
                    self.bad_answers += 1
                    raise EnterpriseNodeError(
                        f"the enterprise node referred {handle.text} elsewhere without HS_SITE"
                    )
                site = sites[0]
                continue
            self.bad_answers += 1
            raise EnterpriseNodeError(
                f"the enterprise node answered {handle.text} with rc {rc}: {result}"
            )
        self.bad_answers += 1
        raise EnterpriseNodeError(
            f"more than {self.settings.enterprise_max_referrals} referrals resolving "
            f"{handle.text} (a referral loop?)"
        )

    async def _query(
        self, handle_text: str, site: dict[str, Any], deadline: float
    ) -> tuple[int, list[HandleValue] | str]:
        """Ask each server in turn (UDP, then TCP) until one answers readably."""
        self.asked += 1
        endpoints = _endpoints(site)
        garbage: list[str] = []
        for n, (address, udp, tcp) in enumerate(endpoints):
            budget = (deadline - time.monotonic()) / (len(endpoints) - n)
            tries: list[tuple[client.Transport, int | None]] = (
                [("udp", udp), ("tcp", tcp)] if udp else [("tcp", tcp)]
            )
            for transport, port in tries:
                left = min(budget, deadline - time.monotonic())
                if port is None or left <= 0.01:
                    continue
                share = left / 2 if transport == "udp" and tcp else left
                try:
                    answer = await client.resolve(
                        handle_text, server=(address, port), transport=transport,
                        timeout=share,
                    )  # fmt: skip
                except ProtocolError as exc:
                    garbage.append(f"{address}:{port}/{transport}: {exc}")
                    continue
                except (TimeoutError, OSError):
                    continue
                return answer.rc, answer.result
        if garbage:
            self.bad_answers += 1
            raise EnterpriseNodeError(
                "the enterprise node answered with something unreadable: " + "; ".join(garbage)
            )
        self.timeouts += 1
        raise EnterpriseNodeTimeout(
            f"no server of the enterprise node answered within "
            f"{self.settings.enterprise_timeout:g} s"
        )
