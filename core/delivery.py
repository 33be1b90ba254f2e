"""The delivery worker: sends the outbox to the top-level node, losing nothing.

- Order: a tenant's messages (and the node's own, tenant NULL) go in outbox order. A
  message that fails holds back every later message of its tenant until it is through;
  other tenants are not held back by it.
- Retries are durable: a failure writes ``attempts``, ``last_error`` and
  ``next_attempt_at`` (exponential backoff with jitter) into the row, so a restart or
  another process continues the same schedule.
- De-duplication: every row has an ``event_id``; a message sent again after a crash
  (sent, but not yet marked delivered) carries the same id, and the receiver drops it.
- Dead letters: a message the node *refuses* ``outbox_max_attempts`` times is set aside
  (``dead_at``) so its tenant's later messages can go; staff see it and may re-send it.
  An unreachable node (connection errors, timeouts, 5xx) dead-letters nothing: an outage
  of hours only waits, and after it everything goes in order.

It runs as the ``outbox-delivery`` periodic job (``core.scheduler``): one process at a
time holds the lease, which is what keeps the order across processes.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from core import upstream
from core.scheduler import periodic
from core.settings import Settings
from core.tables import Outbox
from core.tenancy import cross_tenant
from core.upstream_messages import SYNC_PATH, TOPIC_PREFIX, kind_of

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class RunResult:
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    unreachable: bool = False
    errors: list[str] = field(default_factory=list)
    # time.monotonic() after which no new request starts: a run must end well inside
    # its lease, or a second runner could start and send out of order.
    stop_at: float = float("inf")

    @property
    def stopped(self) -> bool:
        return self.unreachable or time.monotonic() >= self.stop_at

    def summary(self) -> str:
        text = f"{self.delivered} delivered, {self.failed} failed, {self.dead} dead-lettered"
        return text + (f"; {self.errors[-1]}" if self.errors else "")


def backoff(attempts: int, settings: Settings, rng: random.Random | None = None) -> float:
    """Seconds before try ``attempts + 1``: doubling, capped, jittered over its upper half
    (so many rows that failed together do not all come back at once)."""
    doubled = settings.outbox_backoff_base * 2 ** max(0, attempts - 1)
    ceiling = min(settings.outbox_backoff_max, doubled)
    return ceiling / 2 + (rng or random).random() * ceiling / 2


async def _pending(limit: int, now: datetime) -> list[dict[str, Any]]:
    """The oldest undelivered rows of the tenants not backing off. A tenant whose chain
    waits is left out of the window, so that its backlog (thousands of rows after an
    outage of the top-level node) does not keep every other tenant's rows out of it."""
    waiting = (
        Outbox.delivered_at.is_null()
        & Outbox.dead_at.is_null()
        & Outbox.topic.like(f"{TOPIC_PREFIX}%")
    )
    async with cross_tenant("maintenance"):
        held_rows = await (
            Outbox.select(Outbox.tenant_id)
            .where(waiting & (Outbox.next_attempt_at > now))
            .distinct()
            .run()
        )
        held = {r["tenant_id"] for r in held_rows}
        query = Outbox.select(*Outbox.all_columns(), Outbox.tenant_id.prefix.as_alias("prefix"))
        ids = [t for t in held if t is not None]
        if ids:
            query = query.where(Outbox.tenant_id.not_in(ids) | Outbox.tenant_id.is_null())
        if None in held:
            query = query.where(Outbox.tenant_id.is_not_null())
        return await query.where(waiting).order_by(Outbox.id).limit(limit).run()


def event(row: dict[str, Any], prefix: str | None) -> dict[str, Any]:
    """The message of one outbox row (REFERENCE §4; shapes in core.upstream_messages)."""
    created = row["created_at"]
    return {
        "eventId": row["event_id"] or f"outbox-{row['id']}",
        "kind": kind_of(row["topic"]),
        "tenant": prefix,
        "occurredAt": created.isoformat() if isinstance(created, datetime) else str(created),
        "data": row["payload"] if isinstance(row["payload"], dict) else _json(row["payload"]),
    }


def _json(value: Any) -> dict[str, Any]:
    import json

    loaded = json.loads(value or "{}")
    return loaded if isinstance(loaded, dict) else {"value": loaded}


def _chains(rows: list[dict[str, Any]], now: datetime) -> dict[int | None, list[dict[str, Any]]]:
    """Each tenant's sendable rows in order, up to its first row still backing off."""
    chains: dict[int | None, list[dict[str, Any]]] = {}
    held: set[int | None] = set()
    for row in rows:
        tenant = row["tenant_id"]
        if tenant in held:
            continue
        wait = row["next_attempt_at"]
        if wait is not None and wait > now:
            held.add(tenant)
            continue
        chains.setdefault(tenant, []).append(row)
    return chains


def _batches(chain: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    """Consecutive rows of one kind, at most ``size`` each (the order is kept)."""
    out: list[list[dict[str, Any]]] = []
    for row in chain:
        if out and out[-1][0]["topic"] == row["topic"] and len(out[-1]) < size:
            out[-1].append(row)
        else:
            out.append([row])
    return out


async def _mark_delivered(rows: list[dict[str, Any]], now: datetime) -> None:
    async with cross_tenant("maintenance", write=True):
        await (
            Outbox.update(
                {
                    Outbox.delivered_at: now,
                    Outbox.attempts: Outbox.attempts + 1,
                    Outbox.next_attempt_at: None,
                    Outbox.last_error: "",
                }
            )
            .where(Outbox.id.is_in([r["id"] for r in rows]))
            .run()
        )


async def _mark_failed(
    row: dict[str, Any],
    error: upstream.PushError,
    now: datetime,
    settings: Settings,
    rng: random.Random | None,
) -> bool:
    """Record one failed try; True if the row is now a dead letter."""
    attempts = int(row["attempts"]) + 1
    dead = error.reason == upstream.REFUSED and attempts >= max(1, settings.outbox_max_attempts)
    retry = now + timedelta(seconds=backoff(attempts, settings, rng))
    async with cross_tenant("maintenance", write=True):
        await (
            Outbox.update(
                {
                    Outbox.attempts: attempts,
                    Outbox.last_error: error.detail[:1024],
                    Outbox.next_attempt_at: None if dead else retry,
                    Outbox.dead_at: now if dead else None,
                }
            )
            .where(Outbox.id == row["id"])
            .run()
        )
    return dead


async def _send(
    client: httpx.AsyncClient, settings: Settings, batch: list[dict[str, Any]], prefix: str | None
) -> None:
    kind = kind_of(batch[0]["topic"])
    body = {"node": settings.node_prefix, "events": [event(r, prefix) for r in batch]}
    await upstream.push(client, f"{SYNC_PATH}{kind}", body)


async def _failed(
    row: dict[str, Any],
    exc: upstream.PushError,
    result: RunResult,
    now: datetime,
    settings: Settings,
    rng: random.Random | None,
) -> bool:
    """Record the failure; True if the tenant's chain may go on (the row is dead)."""
    result.failed += 1
    result.errors.append(exc.detail)
    result.unreachable = exc.reason == upstream.UNREACHABLE
    dead = await _mark_failed(row, exc, now, settings, rng)
    result.dead += dead
    return dead


async def _deliver_chain(
    client: httpx.AsyncClient,
    settings: Settings,
    chain: list[dict[str, Any]],
    prefix: str | None,
    result: RunResult,
    now: datetime,
    rng: random.Random | None,
) -> None:
    for batch in _batches(chain, max(1, settings.outbox_batch)):
        if result.stopped:
            return
        try:
            await _send(client, settings, batch, prefix)
        except upstream.PushError as exc:
            if exc.reason == upstream.REFUSED and len(batch) > 1:
                # Find the one the node refuses: the batch goes again one by one, in order.
                for row in batch:
                    if not await _deliver_one(client, settings, row, prefix, result, now, rng):
                        return
                continue
            if not await _failed(batch[0], exc, result, now, settings, rng):
                return
            # batch[0] is dead: the rest of the batch goes in the next run, in order.
            return
        await _mark_delivered(batch, now)
        result.delivered += len(batch)


async def _deliver_one(
    client: httpx.AsyncClient,
    settings: Settings,
    row: dict[str, Any],
    prefix: str | None,
    result: RunResult,
    now: datetime,
    rng: random.Random | None,
) -> bool:
    """Send one row; True if its tenant's chain may go on (delivered or dead-lettered)."""
    try:
        await _send(client, settings, [row], prefix)
    except upstream.PushError as exc:
        return await _failed(row, exc, result, now, settings, rng)
    await _mark_delivered([row], now)
    result.delivered += 1
    return True


async def deliver_once(
    settings: Settings,
    *,
    now: datetime | None = None,
    client: httpx.AsyncClient | None = None,
    rng: random.Random | None = None,
    stop_at: float = float("inf"),
) -> RunResult:
    """One pass over what is due: every tenant's chain, until the node is unreachable
    (or ``stop_at``, a time.monotonic() instant, has passed)."""
    now = now or _utcnow()
    result = RunResult(stop_at=stop_at)
    rows = await _pending(max(1, settings.outbox_batch) * 10, now)
    if not rows:
        return result
    chains = _chains(rows, now)
    own = client or upstream.push_client(settings)
    try:
        for chain in chains.values():
            await _deliver_chain(own, settings, chain, chain[0]["prefix"], result, now, rng)
            if result.stopped:
                break  # the node is down (the other tenants would only fail), or time is up
    finally:
        if client is None:
            await own.aclose()
    return result


async def drain(settings: Settings, *, clock: Clock = _utcnow) -> RunResult:
    """What the periodic job runs: passes every ``outbox_poll`` s for
    ``outbox_run_seconds``, so a write waits a poll, not a scheduler period."""
    total = RunResult()
    deadline = time.monotonic() + max(0.0, settings.outbox_run_seconds)
    async with upstream.push_client(settings) as client:
        while True:
            result = await deliver_once(settings, now=clock(), client=client, stop_at=deadline)
            total.delivered += result.delivered
            total.failed += result.failed
            total.dead += result.dead
            total.errors[-1:] = result.errors[-1:]
            if time.monotonic() >= deadline:
                return total
            if result.delivered and not result.unreachable:
                continue  # more may be waiting behind a full page
            await asyncio.sleep(max(0.01, settings.outbox_poll))


# --- what staff see and do (portal.web.outbox) ------------------------------------


async def dead_letters(limit: int = 100) -> list[dict[str, Any]]:
    async with cross_tenant("staff"):
        return (
            await Outbox.select(
                Outbox.id,
                Outbox.tenant_id,
                Outbox.topic,
                Outbox.event_id,
                Outbox.created_at,
                Outbox.dead_at,
                Outbox.attempts,
                Outbox.last_error,
            )
            .where(Outbox.dead_at.is_not_null() & Outbox.delivered_at.is_null())
            .order_by(Outbox.id, ascending=False)
            .limit(limit)
            .run()
        )


async def resend(outbox_id: int) -> bool:
    """Put a dead letter back in line (same event id); False if there is no such letter."""
    async with cross_tenant("staff", write=True):
        rows = await (
            Outbox.update({Outbox.dead_at: None, Outbox.next_attempt_at: None, Outbox.attempts: 0})
            .where((Outbox.id == outbox_id) & Outbox.dead_at.is_not_null())
            .returning(Outbox.id)
            .run()
        )
    return bool(rows)


async def backlog() -> dict[str, Any]:
    """Outbox lag for the dashboard: pending count, oldest pending, dead letters."""
    async with cross_tenant("staff"):
        waiting = Outbox.delivered_at.is_null() & Outbox.topic.like(f"{TOPIC_PREFIX}%")
        pending = await Outbox.count().where(waiting & Outbox.dead_at.is_null()).run()
        dead = await Outbox.count().where(waiting & Outbox.dead_at.is_not_null()).run()
        oldest = (
            await Outbox.select(Outbox.created_at)
            .where(waiting & Outbox.dead_at.is_null())
            .order_by(Outbox.id)
            .first()
            .run()
        )
    return {"pending": pending, "dead": dead, "oldest": oldest["created_at"] if oldest else None}


@periodic(
    "outbox-delivery",
    every=lambda s: s.outbox_delivery_interval if s.upstream_url else 0,
    lease_setting=lambda s: s.outbox_lease,
    retry_after=5.0,
)
async def deliver_outbox(settings: Settings) -> str:
    return (await drain(settings)).summary()
