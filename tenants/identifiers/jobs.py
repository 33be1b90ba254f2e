"""Background work of the identifiers context: bulk jobs and its periodic jobs.

Bulk jobs run on the Dramatiq broker, or in process in the embedded profile. Thin: the
actor only calls ``bulk.process_job``. The job row is the durable intent, so a message
lost with a crashed worker is re-driven by ``resume_unfinished`` (run at start-up) and
by the ``bulk-redrive`` periodic job, and a message delivered twice is harmless (the
cursor is compare-and-set). The periodic jobs (core.scheduler; docs/scheduling.md) are
registered by importing this module, which the composition root does (portal/jobs.py).
"""

from __future__ import annotations

import logging
from datetime import timedelta

import dramatiq

from core import db
from core.scheduler import periodic
from core.settings import Settings, get_settings
from core.tasks import InProcessJobs, send
from tenants.identifiers.services import bulk, idempotency, window_edges

log = logging.getLogger("idnest.bulk")
# A Dramatiq worker process imports this module and nothing else of ours: point Piccolo
# at our configuration here, or the first query fails to find an engine.
db.configure()
_local = InProcessJobs(
    bulk.process_job, "bulk job %s stopped; it resumes on the next start from its cursor"
)


@dramatiq.actor(queue_name="bulk", max_retries=20, time_limit=12 * 3600 * 1000)
async def run_bulk_job(job_pk: int) -> None:
    await bulk.process_job(job_pk)


def enqueue(job_pk: int) -> None:
    if get_settings().broker_url:
        send(run_bulk_job, job_pk)
    else:
        _local.start(job_pk)


async def resume_unfinished() -> int:
    pending = await bulk.unfinished_jobs()
    for pk in pending:
        enqueue(pk)
    return len(pending)


async def stop_local() -> None:
    """Stop in-process jobs at shutdown; each resumes from its cursor next time."""
    await _local.stop()


async def wait_local() -> None:
    """Tests and the CLI: wait until in-process jobs are finished."""
    await _local.wait()


@periodic("idempotency-purge", every=lambda s: s.idempotency_purge_interval)
async def purge_idempotency_keys(settings: Settings) -> str:
    purged = await idempotency.purge(settings.idempotency_ttl_hours)
    return f"{purged} keys older than {settings.idempotency_ttl_hours:g} h purged"


# A short lease: a run takes milliseconds, and a worker killed while holding it (the very
# failure this job is for) must not stop the re-drive for the default hour.
@periodic("bulk-redrive", every=lambda s: s.bulk_redrive_interval, lease=30.0)
async def redrive_stalled_bulk_jobs(settings: Settings) -> str:
    """Send again the bulk jobs whose worker died or whose message was lost. A job that
    is in fact still running loses nothing: the cursor's compare-and-set turns the
    second worker away."""
    stalled = await bulk.unfinished_jobs(idle_for=timedelta(seconds=settings.bulk_stall_seconds))
    for pk in stalled:
        enqueue(pk)
    return f"{len(stalled)} stalled bulk jobs sent again"


@periodic("window-edges", every=lambda s: s.window_edges_interval)
async def report_window_edges(settings: Settings) -> str:
    """Tell upstream of validity windows that opened or closed since the last run."""
    return f"{await window_edges.report_passed_edges()} window edges queued upstream"
