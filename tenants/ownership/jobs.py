"""Background work of the ownership context: export jobs and the erasure schedule.

Export jobs run on the Dramatiq broker, or in process in the embedded profile; the job
row is the durable intent, so a run lost with its process is started again at start-up
(``resume_unfinished``) and by the ``export-redrive`` periodic job. Erasures of tenants
whose grace period is over run on the ``tenant-erasure`` periodic job.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import dramatiq

from core import db
from core.scheduler import periodic
from core.settings import Settings, get_settings
from core.tasks import InProcessJobs, send
from tenants.ownership.services import closure
from tenants.ownership.services import jobs as export_jobs

log = logging.getLogger("idnest.exports")
db.configure()
_local = InProcessJobs(export_jobs.process_export, "export job %s failed; it is run again")


@dramatiq.actor(queue_name="exports", max_retries=5, time_limit=12 * 3600 * 1000)
async def run_export(job_pk: int) -> None:
    await export_jobs.process_export(job_pk)


def enqueue(job_pk: int) -> None:
    if get_settings().broker_url:
        send(run_export, job_pk)
    else:
        _local.start(job_pk)


async def resume_unfinished() -> int:
    pending = await export_jobs.unfinished_exports()
    for pk in pending:
        enqueue(pk)
    return len(pending)


async def stop_local() -> None:
    await _local.stop()


async def wait_local() -> None:
    await _local.wait()


@periodic("export-redrive", every=lambda s: s.bulk_redrive_interval, lease=30.0)
async def redrive_stalled_exports(settings: Settings) -> str:
    stalled = await export_jobs.unfinished_exports(
        idle_for=timedelta(seconds=settings.export_stall_seconds)
    )
    for pk in stalled:
        enqueue(pk)
    return f"{len(stalled)} stalled exports sent again"


@periodic("tenant-erasure", every=lambda s: s.erasure_interval)
async def erase_closed_tenants(settings: Settings) -> str:
    erased = await closure.erase_due()
    return f"{len(erased)} tenants erased after their grace period: {', '.join(erased) or '-'}"
