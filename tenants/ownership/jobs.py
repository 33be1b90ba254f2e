"""Background work of the ownership context: export and import jobs, the erasure schedule.

Export and staff import jobs run on the Dramatiq broker, or in process in the embedded
profile; the job row is the durable intent, so a run lost with its process is started
again at start-up (``resume_unfinished``) and by the ``export-redrive`` and
``import-redrive`` periodic jobs. Erasures of tenants whose grace period is over run on
the ``tenant-erasure`` periodic job.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import dramatiq

from core import db
from core.scheduler import periodic
from core.settings import Settings, get_settings
from core.tasks import InProcessJobs, send
from tenants.ownership.services import closure, imports
from tenants.ownership.services import jobs as export_jobs

log = logging.getLogger("idnest.exports")
db.configure()
_local = InProcessJobs(export_jobs.process_export, "export job %s failed; it is run again")
_local_imports = InProcessJobs(imports.process_import, "import job %s failed; it is run again")


@dramatiq.actor(queue_name="exports", max_retries=5, time_limit=12 * 3600 * 1000)
async def run_export(job_pk: int) -> None:
    await export_jobs.process_export(job_pk)


def enqueue(job_pk: int) -> None:
    if get_settings().broker_url:
        send(run_export, job_pk)
    else:
        _local.start(job_pk)


@dramatiq.actor(queue_name="exports", max_retries=5, time_limit=12 * 3600 * 1000)
async def run_import(job_pk: int) -> None:
    await imports.process_import(job_pk)


def enqueue_import(job_pk: int) -> None:
    if get_settings().broker_url:
        send(run_import, job_pk)
    else:
        _local_imports.start(job_pk)


async def resume_unfinished() -> int:
    pending = await export_jobs.unfinished_exports()
    for pk in pending:
        enqueue(pk)
    queued = await imports.unfinished_imports()
    for pk in queued:
        enqueue_import(pk)  # each is claimed: one still running elsewhere is left alone
    return len(pending) + len(queued)


async def stop_local() -> None:
    await _local.stop()
    await _local_imports.stop()


async def wait_local() -> None:
    await _local.wait()
    await _local_imports.wait()


@periodic("export-redrive", every=lambda s: s.bulk_redrive_interval, lease=30.0)
async def redrive_stalled_exports(settings: Settings) -> str:
    stalled = await export_jobs.unfinished_exports(
        idle_for=timedelta(seconds=settings.export_stall_seconds)
    )
    for pk in stalled:
        enqueue(pk)
    return f"{len(stalled)} stalled exports sent again"


@periodic("import-redrive", every=lambda s: s.bulk_redrive_interval, lease=30.0)
async def redrive_stalled_imports(settings: Settings) -> str:
    stalled = await imports.unfinished_imports(
        idle_for=timedelta(seconds=settings.export_stall_seconds)
    )
    for pk in stalled:
        enqueue_import(pk)
    return f"{len(stalled)} stalled imports sent again"


@periodic("tenant-erasure", every=lambda s: s.erasure_interval)
async def erase_closed_tenants(settings: Settings) -> str:
    erased = await closure.erase_due()
    return f"{len(erased)} tenants erased after their grace period: {', '.join(erased) or '-'}"
