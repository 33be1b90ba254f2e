"""Billing's jobs, and the write guard it installs in every process that imports it.

``portal/jobs.py`` (imported by ``idnest serve`` and the worker) and the CLI import this
module, so the plan's registration cap guards every door's writes in every process.
"""

from __future__ import annotations

import logging

from billing.invoices.service import close_month, previous_month
from billing.metering import quota
from core import usage
from core.errors import Conflict
from core.scheduler import periodic
from core.settings import Settings

log = logging.getLogger("idnest.billing")
quota.install()


@periodic("billing-month-close", every=lambda s: s.billing_close_interval, retry_after=600.0)
async def close_last_month(settings: Settings) -> str:
    """Invoice last month (Asia/Shanghai) once it has ended; later runs make nothing."""
    month = previous_month(usage.now())
    try:
        result = await close_month(month)
    except Conflict as exc:  # not possible for last month, but never an error loop
        return exc.detail
    return f"{month}: {len(result.created)} issued, {result.existing} existed"
