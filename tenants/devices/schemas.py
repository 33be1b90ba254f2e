"""The devices API's bodies (msgspec)."""

from __future__ import annotations

import msgspec


class DeviceIdentity(msgspec.Struct):
    """Who the node verified the caller to be: the device's handle, the key that proved
    it (``index:handle``), its tenant, and how a grant names it."""

    handle: str
    key: str
    tenant: str
    grant_subject: str
