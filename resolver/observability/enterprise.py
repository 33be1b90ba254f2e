"""Availability of self-deployed tenants' servers, from the prober's rounds.

The prober (resolver.observability.prober) pings every server of every self-deployed
tenant with GET_SITE_INFO each round, as a door ``enterprise:{prefix}``; those doors are
left out of the node's own availability (resolver.observability.report) and an outage
raises an abnormal event naming the door (resolver.observability.events). Staff see every
tenant's figures, a tenant its own.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from core.tenancy import cross_tenant
from resolver.observability.report import ENTERPRISE_DOOR
from resolver.observability.tables import ProbeResult


async def enterprise_availability(
    prefix: str | None = None, *, hours: int = 24, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Per self-deployed tenant (or the one ``prefix``): rounds probed in the last
    ``hours``, the share that every one of its servers answered, and the last result."""
    since = (now or datetime.now(UTC)) - timedelta(hours=hours)
    door = ProbeResult.door == f"{ENTERPRISE_DOOR}{prefix}"[:64] if prefix else (
        ProbeResult.door.like(f"{ENTERPRISE_DOOR}%")
    )  # fmt: skip
    async with cross_tenant("maintenance"):
        rows = await (
            ProbeResult.select()
            .where(door & (ProbeResult.round_at >= since))
            .order_by(ProbeResult.round_at)
            .run()
        )
    rounds: dict[str, dict[Any, bool]] = {}
    last: dict[str, dict[str, Any]] = {}
    for r in rows:
        per = rounds.setdefault(r["door"], {})
        per[r["round_at"]] = per.get(r["round_at"], True) and bool(r["ok"])
        last[r["door"]] = r
    out = []
    for name, per in sorted(rounds.items()):
        up = sum(per.values())
        out.append({"prefix": name.removeprefix(ENTERPRISE_DOOR), "rounds": len(per),
                    "availability": round(up / len(per), 4), "last_ok": last[name]["ok"],
                    "last_detail": last[name]["detail"],
                    "last_at": last[name]["round_at"]})  # fmt: skip
    return out
