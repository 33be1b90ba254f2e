"""Every module that declares Dramatiq actors or periodic jobs, imported in one place.

The kernel (core.tasks, core.scheduler) knows no context: the composition root names
the job modules here. ``idnest serve`` imports this module before its scheduler starts,
and ``idnest worker`` hands it to the Dramatiq CLI, so both see the same jobs.
"""

from __future__ import annotations

from billing import jobs as billing_jobs  # noqa: F401
from billing.payments import jobs as payments_jobs  # noqa: F401
from core import (
    audit,  # noqa: F401 - the audit-seal job
    delivery,  # noqa: F401 - the outbox-delivery job
    scheduler,  # noqa: F401 - declares the run_periodic actor
)
from resolver.observability import jobs as observability_jobs  # noqa: F401
from tenants.escrow import jobs as escrow_jobs  # noqa: F401
from tenants.identifiers import jobs as identifiers_jobs  # noqa: F401
from tenants.ownership import jobs as ownership_jobs  # noqa: F401
from tenants.statistics import jobs as statistics_jobs  # noqa: F401
from tenants.templates import jobs as templates_jobs  # noqa: F401

# What the Dramatiq worker process imports (after core.tasks, which builds the broker).
WORKER_MODULES = ("portal.jobs",)
