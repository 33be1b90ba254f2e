"""Periodic jobs of the observability: the prober, and the resolution-log purge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.scheduler import periodic
from core.settings import Settings
from core.tenancy import cross_tenant
from resolver.observability.prober import run_prober
from resolver.observability.tables import ProbeResult, ResolutionLogEntry


@periodic("prober", every=lambda s: s.prober_interval, lease=120.0, retry_after=30.0)
async def prober(settings: Settings) -> str:
    return await run_prober(settings)


@periodic("resolution-log-purge", every=lambda s: 3600.0 if s.resolution_log_retention_days else 0)
async def purge_resolution_log(settings: Settings, now: datetime | None = None) -> str:
    """Resolution logs and probe results older than the retention period go."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=settings.resolution_log_retention_days)
    async with cross_tenant("maintenance", write=True):
        logs = (
            await ResolutionLogEntry.delete()
            .where(ResolutionLogEntry.at < cutoff)
            .returning(ResolutionLogEntry.id)
            .run()
        )
        probes = (
            await ProbeResult.delete()
            .where(ProbeResult.at < cutoff)
            .returning(ProbeResult.id)
            .run()
        )
    return f"purged {len(logs)} resolution-log entries and {len(probes)} probe results"


@periodic("abnormal-check", every=lambda s: s.abnormal_check_interval, lease=120.0)
async def abnormal_check(settings: Settings) -> str:
    from resolver.observability.events import check_abnormal

    return await check_abnormal(settings)


@periodic("upstream-reports", every=lambda s: 3600.0)
async def upstream_reports(settings: Settings) -> str:
    """The daily monitoring message and the monthly report, each once, when due."""
    from resolver.observability.daily import enqueue_due

    return "; ".join(await enqueue_due(settings.prober_interval or 60.0)) or "nothing due"
