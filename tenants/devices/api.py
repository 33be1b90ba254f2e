"""Devices over HTTP: ``GET /api/devices/me`` answers which identifier the caller proved
to be (a device token, or HTTP Basic with a device's HS_SECKEY); any other credential is
403. Resolution itself needs no route of its own: a device's credential works on every
read door, and grants that name it apply (tenants/grants)."""

from __future__ import annotations

from litestar import get
from litestar.di import NamedDependency

from core.auth import DEVICE_SCOPE, Principal
from core.errors import InsufficientPermissions
from tenants.devices.schemas import DeviceIdentity


@get("/api/devices/me", tags=["Devices"], summary="The device the caller proved to be")
async def whoami(caller: NamedDependency[Principal]) -> DeviceIdentity:
    if not caller.can(DEVICE_SCOPE) or not caller.client_id:
        raise InsufficientPermissions(
            "this endpoint answers a device's own credential (a device token)"
        )
    _kind, index, handle = caller.actor.split(":", 2)
    return DeviceIdentity(
        handle=handle,
        key=f"{index}:{handle}",
        tenant=caller.tenant_prefix or "",
        grant_subject=caller.client_id,
    )


ROUTES = [whoami]
