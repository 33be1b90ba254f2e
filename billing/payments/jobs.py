"""Periodic jobs of payments (thin): meter-event delivery to Stripe and dunning.

Registered by importing this module (portal/jobs.py does); docs/scheduling.md lists them.
"""

from __future__ import annotations

from billing.payments.services import dunning, gateway, meter, stripe_invoices
from core.scheduler import periodic
from core.settings import Settings

# Every process that writes (serve, the Dramatiq worker) imports this module: a suspended
# tenant's registrations are refused there (core/quota.py).
dunning.install_guard()


@periodic(
    "stripe-meter",
    every=lambda s: s.stripe_meter_interval if s.stripe_api_key else 0,
    retry_after=60.0,
)
async def deliver_meter_events(settings: Settings) -> str:
    if not gateway.enabled(settings):
        return "Stripe off"
    queued = await meter.queue_closed_hours(settings)
    done = await meter.deliver_due(settings)
    pushed, failed = await stripe_invoices.push_issued(settings)
    return (
        f"{queued} queued, {done.sent} sent, {done.failed} to retry; "
        f"invoices: {pushed} pushed, {failed} to retry"
    )


@periodic("dunning", every=lambda s: s.dunning_interval)
async def run_dunning(settings: Settings) -> str:
    done = await dunning.run_dunning(settings)
    return f"{done.reminded} reminded, {done.suspended} suspended"
