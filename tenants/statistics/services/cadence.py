"""The REFERENCE §4 items the node sends on a cadence, enqueued once per period.

The ``upstream-cadence`` job (``tenants.statistics.jobs``) runs every few minutes and
calls ``run``; every message has a de-dup key naming its period (``core.outbox.
enqueue_once``), so however often and in however many processes it runs, each period's
message is enqueued once, and a node that was down catches up with the last period on
its next run. Days and hours are Asia/Shanghai's. Delivery is ``core.delivery``'s.

- daily, for the day that ended: per enterprise node its statistics; node statistics;
  the node's templates;
- hourly, and on change: per enterprise node its profile and routing;
- on change: the resolution configuration and the templates (the key is a digest of
  the content, so a change is a new key and is sent at the next run).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from core import outbox
from core.settings import Settings
from core.usage import SHANGHAI
from tenants.accounts.services.tenants import list_tenants
from tenants.enterprise.services.servers import every_self_deployed
from tenants.statistics.services import stats
from tenants.templates.services.templates import list_templates


@dataclass(slots=True)
class Enqueued:
    keys: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{len(self.keys)} cadence messages enqueued"


def _digest(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


async def _once(out: Enqueued, topic: str, data: dict[str, Any], key: str, now: datetime,
                tenant_id: int | None = None) -> None:  # fmt: skip
    if await outbox.enqueue_once(topic, data, key, tenant_id=tenant_id, now=now):
        out.keys.append(key)


def resolution_config(settings: Settings) -> dict[str, Any]:
    addresses = [a.strip() for a in settings.wire_addresses.split(",") if a.strip()]
    return {
        "prefix": settings.node_prefix,
        "code_types": ["Handle", "GS1", "OID", "Ecode", "VAA"],
        "addresses": {
            "ipv4": [a for a in addresses if ":" not in a],
            "ipv6": [a for a in addresses if ":" in a],
        },
        "ports": {
            "tcp": settings.wire_port,
            "udp": settings.wire_port,
            "http": settings.site_http_port or settings.port,
        },
        "base_url": settings.public_base_url,
    }


def _template(t: Any) -> dict[str, Any]:
    return {
        "code": t.code, "version": t.version, "name": t.name, "industry": list(t.industry),
        "carrier_type": t.carrier_type, "items": [i.name for i in t.items],
    }  # fmt: skip


async def _daily(out: Enqueued, day: date, now: datetime) -> None:
    rows = {r.tenant_id: r for r in await stats.by_enterprise(day, day, path="maintenance")}
    totals = await stats.registrations_total(day)
    industries = await stats.tenant_industries()
    active = [t for t in await list_tenants() if t.status == "active"]
    for t in active:
        r = rows.get(t.id)
        data = {
            "day": day.isoformat(), "prefix": t.prefix, "name": t.name,
            "industry": industries.get(t.id, ""),
            "registrations": r.registrations if r else 0,
            "registrations_total": totals.get(t.id, 0),
            "resolutions": r.queries if r else 0, "successes": r.successes if r else 0,
        }  # fmt: skip
        await _once(out, "upstream.enterprise_stats", data, f"estats:{day}:{t.prefix}", now, t.id)
    node = {
        "day": day.isoformat(),
        "registrations": sum(r.registrations for r in rows.values()),
        "registrations_total": sum(totals.values()),
        "queries": sum(r.queries for r in rows.values()),
        "successes": sum(r.successes for r in rows.values()),
        # Not measured yet: resolutions are counted per tenant, not per source address.
        "source_ips": None,
        "enterprises": len(active),
    }
    await _once(out, "upstream.node_stats", node, f"nstats:{day}", now)
    templates = [_template(t) for t in await list_templates(None)]
    await _once(out, "upstream.templates", {"day": day.isoformat(), "templates": templates},
                f"templates:{day}", now)  # fmt: skip


async def _hourly(out: Enqueued, settings: Settings, hour: str, now: datetime) -> None:
    listed = ("active", "suspended")
    # A self-deployed enterprise's routing is its own servers (what 0.NA/{prefix} names).
    servers = dict(await every_self_deployed(listed))
    for t in await list_tenants():
        if t.status not in listed:
            continue
        own = [s.endpoint for s in servers.get(t.prefix, [])]
        data = {
            "op": "profile", "prefix": t.prefix, "name": t.name, "status": t.status,
            "routing": {"prefix": t.prefix, "node": settings.node_prefix,
                        "base_url": settings.public_base_url,
                        "deployment": "self" if own else "delegated", "servers": own},
        }  # fmt: skip
        # Hourly, and at the next run after a change (the digest is part of the key).
        key = f"enterprise:{t.prefix}:{hour}:{_digest(data)}"
        await _once(out, "upstream.enterprise", data, key, now, t.id)


async def run(settings: Settings, now: datetime | None = None) -> Enqueued:
    now = now or datetime.now(UTC)
    local = now.astimezone(SHANGHAI)
    out = Enqueued()
    await _daily(out, local.date() - timedelta(days=1), now)
    await _hourly(out, settings, local.strftime("%Y-%m-%dT%H"), now)
    config = resolution_config(settings)
    await _once(out, "upstream.config", config, f"config:{_digest(config)}", now)
    templates = [_template(t) for t in await list_templates(None)]
    data = {"day": local.date().isoformat(), "templates": templates, "change": True}
    await _once(out, "upstream.templates", data, f"templates-change:{_digest(templates)}", now)
    return out
