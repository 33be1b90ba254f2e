"""The write guard: "may this tenant create N identifiers now?", asked by every write path.

The kernel knows no plans or payments. Billing registers its guards here at start-up
(``register_guard``): the registration cap of the tenant's plan, and, for payments and
dunning, the suspension of an overdue tenant's writes. Every tenants/ path that creates
identifiers calls ``check_create`` inside the write's own transaction, before its commit,
with the number it is about to create (or has just inserted: the transaction then rolls
back). A guard that refuses raises a ``core.errors.WriteRefused`` (rc 604, HTTP 402)
naming the reason. With no guard registered every write is allowed.

Guards run in the write's tenant transaction, so what they read (the month's
registrations in core/usage.py) is that tenant's rows only. Resolution never calls here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

# (tenant id, identifiers about to be created) -> None, or raise WriteRefused.
WriteGuard = Callable[[int, int], Awaitable[None]]

_guards: dict[str, WriteGuard] = {}


def register_guard(name: str, guard: WriteGuard) -> None:
    """Add (or replace, by name) a guard every identifier creation must pass."""
    _guards[name] = guard


def unregister_guard(name: str) -> None:
    _guards.pop(name, None)


async def check_create(tenant_id: int, count: int) -> None:
    """Raise WriteRefused if any guard refuses ``count`` new identifiers for the tenant."""
    if count <= 0:
        return
    for guard in list(_guards.values()):
        await guard(tenant_id, count)
