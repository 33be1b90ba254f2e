"""Usage reported to Stripe as Billing Meter events, durably.

A window's usage becomes rows of ``stripe_meter_events`` first (one per tenant, meter
and hour, its identifier fixed by those three), and a periodic job sends the rows that
are due. The identifier is both Stripe's event identifier and the request's
idempotency key: however often a row is sent (a timeout, a crash before the row was
marked), Stripe counts it once. A failed send waits longer each time (30 s doubling, at
most an hour) and is tried again; nothing is dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import stripe

from billing.payments.services import customers, gateway
from billing.payments.tables import MeterEvent
from core import usage
from core.settings import Settings
from core.tenancy import cross_tenant, tenant_transaction

log = logging.getLogger("idnest.billing.meter")
BATCH = 200
MAX_BACKOFF = 3600.0


def identifier(tenant_id: int, event_name: str, window_start: datetime) -> str:
    """The same tenant, meter and hour always give the same identifier."""
    hour = window_start.astimezone(UTC).strftime("%Y%m%dT%H")
    return f"idnest-{tenant_id}-{event_name}-{hour}"


async def record_window(
    tenant_id: int, window_start: datetime, usage: dict[str, int], now: datetime | None = None
) -> int:
    """Queue one event per meter with a non-zero value for the tenant's hour.

    ``usage`` maps a meter's event name to the hour's count. A window queued again (a
    re-driven roll-up) adds nothing: the identifier is unique per tenant. Returns how
    many rows are new.
    """
    now = now or datetime.now(UTC)
    start = window_start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    rows = [
        MeterEvent(
            tenant_id=tenant_id,
            event_name=name,
            window_start=start,
            value=value,
            identifier=identifier(tenant_id, name, start),
            created_at=now,
            attempts=0,
            next_attempt_at=now,
        )
        for name, value in usage.items()
        if value > 0
    ]
    if not rows:
        return 0
    async with tenant_transaction(tenant_id):
        before = await MeterEvent.count().where(MeterEvent.tenant_id == tenant_id)
        await MeterEvent.insert(*rows).on_conflict(action="DO NOTHING").run()
        return int(await MeterEvent.count().where(MeterEvent.tenant_id == tenant_id)) - before


# An hour is queued once it has been over this long: the resolution counters flush every
# few seconds, so later additions to the hour are none in practice. What still arrives
# later is not sent to Stripe (in the tenant's favour) but is on the idnest invoice.
SETTLE = timedelta(minutes=15)
LOOKBACK = timedelta(hours=48)


async def queue_closed_hours(settings: Settings, now: datetime | None = None) -> int:
    """Queue the usage of every hour that ended more than ``SETTLE`` ago (and not more
    than two days ago: older hours were queued by earlier runs)."""
    now = now or usage.now()
    end = usage.hour_of(now - SETTLE)
    per_tenant = await usage.node_by_hour(end - LOOKBACK, end, path="payments")
    added = 0
    for tenant_id, hours in per_tenant.items():
        for hour, used in hours.items():
            added += await record_window(
                tenant_id,
                hour,
                {
                    settings.stripe_meter_registrations: used.registrations,
                    settings.stripe_meter_resolutions: used.resolutions,
                },
                now=now,
            )
    return added


@dataclass
class Delivery:
    sent: int = 0
    failed: int = 0


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(MAX_BACKOFF, 30.0 * 2 ** max(0, attempts - 1)))


async def _due(now: datetime) -> list[dict[str, Any]]:
    async with cross_tenant("payments"):
        return list(
            await MeterEvent.select()
            .where(MeterEvent.delivered_at.is_null() & (MeterEvent.next_attempt_at <= now))
            .order_by(MeterEvent.id)
            .limit(BATCH)
            .run()
        )


async def _send(row: dict[str, Any], settings: Settings) -> None:
    cid = await customers.ensure_customer(int(row["tenant_id"]), settings)
    await gateway.client(settings).v1.billing.meter_events.create_async(
        params={
            "event_name": row["event_name"],
            "identifier": row["identifier"],
            "timestamp": int(row["window_start"].timestamp()),
            "payload": {"stripe_customer_id": cid, "value": str(row["value"])},
        },
        options={"idempotency_key": row["identifier"]},
    )


async def deliver_due(settings: Settings, now: datetime | None = None) -> Delivery:
    """Send every queued event that is due; mark each sent or schedule its retry."""
    now = now or datetime.now(UTC)
    result = Delivery()
    for row in await _due(now):
        tenant_id = int(row["tenant_id"])
        try:
            await _send(row, settings)
        except (stripe.StripeError, LookupError) as exc:
            result.failed += 1
            attempts = int(row["attempts"]) + 1
            log.warning("meter event %s failed (attempt %d): %s", row["identifier"], attempts, exc)
            async with tenant_transaction(tenant_id):
                await MeterEvent.update(
                    {
                        MeterEvent.attempts: attempts,
                        MeterEvent.next_attempt_at: now + _backoff(attempts),
                        MeterEvent.last_error: str(exc)[:500],
                    }
                ).where((MeterEvent.id == row["id"]) & (MeterEvent.tenant_id == tenant_id))
            continue
        result.sent += 1
        async with tenant_transaction(tenant_id):
            await MeterEvent.update(
                {MeterEvent.delivered_at: now, MeterEvent.attempts: int(row["attempts"]) + 1}
            ).where((MeterEvent.id == row["id"]) & (MeterEvent.tenant_id == tenant_id))
    return result


async def pending_count() -> int:
    async with cross_tenant("payments"):
        return int(await MeterEvent.count().where(MeterEvent.delivered_at.is_null()))
