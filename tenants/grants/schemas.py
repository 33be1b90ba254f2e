"""The grants API's bodies (msgspec), as the handlers read and write them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from tenants.grants.services.grants import GrantInfo

_Text = Annotated[str, msgspec.Meta(max_length=255)]


class GrantCreate(msgspec.Struct, forbid_unknown_fields=True):
    """Exactly one of ``pattern``, ``template``, ``type``; ``client`` narrows the grant to
    one OAuth2 client of the partner."""

    to: _Text
    pattern: _Text | None = None
    template: _Text | None = None
    type: _Text | None = None
    client: Annotated[str, msgspec.Meta(max_length=128)] = ""


class GrantOut(msgspec.Struct):
    id: str
    owner: str
    partner: str
    client: str
    kind: str
    selector: str
    actor: str
    created_at: datetime
    revoked_at: datetime | None
    live: bool

    @classmethod
    def of(cls, g: GrantInfo) -> GrantOut:
        return cls(g.grant_id, g.owner_prefix, g.partner_prefix, g.client_id, g.kind, g.selector,
                   g.actor, g.created_at, g.revoked_at, g.live)  # fmt: skip


class GrantList(msgspec.Struct):
    given: list[GrantOut]
    received: list[GrantOut]
