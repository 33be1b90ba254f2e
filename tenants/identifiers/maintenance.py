"""The registry's periodic jobs (core.scheduler; docs/scheduling.md).

Declared here rather than in ``jobs.py`` because they are not messages anyone sends:
the scheduler claims each one once per period and runs it, in ``idnest serve`` or, with
a broker, on a Dramatiq worker.
"""

from __future__ import annotations

from datetime import timedelta

from core.scheduler import periodic
from core.settings import Settings
from tenants.identifiers import jobs
from tenants.identifiers.services import bulk, idempotency
from tenants.templates.services import sync


@periodic("idempotency-purge", every=lambda s: s.idempotency_purge_interval)
async def purge_idempotency_keys(settings: Settings) -> str:
    purged = await idempotency.purge(settings.idempotency_ttl_hours)
    return f"{purged} keys older than {settings.idempotency_ttl_hours:g} h purged"


@periodic("template-sync", every=lambda s: s.template_sync_interval if s.upstream_url else 0)
async def sync_templates(settings: Settings) -> str:
    return (await sync.sync(settings)).summary()


# A short lease: a run takes milliseconds, and a worker killed while holding it (the very
# failure this job is for) must not stop the re-drive for the default hour.
@periodic("bulk-redrive", every=lambda s: s.bulk_redrive_interval, lease=30.0)
async def redrive_stalled_bulk_jobs(settings: Settings) -> str:
    """Send again the bulk jobs whose worker died or whose message was lost. A job that
    is in fact still running loses nothing: the cursor's compare-and-set turns the
    second worker away."""
    stalled = await bulk.unfinished_jobs(idle_for=timedelta(seconds=settings.bulk_stall_seconds))
    for pk in stalled:
        jobs.enqueue(pk)
    return f"{len(stalled)} stalled bulk jobs sent again"
