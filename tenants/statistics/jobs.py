"""Periodic jobs of the statistics context (core.scheduler; docs/scheduling.md)."""

from __future__ import annotations

from core.scheduler import periodic
from core.settings import Settings
from tenants.statistics.services import cadence


@periodic(
    "upstream-cadence",
    every=lambda s: s.upstream_cadence_interval if s.upstream_url else 0,
    retry_after=60.0,
)
async def enqueue_cadence(settings: Settings) -> str:
    return (await cadence.run(settings)).summary()
