"""Enterprise-node (企业节点) lifecycle: create, list, change status.

A tenant's prefix is ``{node prefix}.{enterprise code}``. Prefixes are allocated once
and never reused: a closed tenant keeps its row, and automatic codes continue past the
highest code ever issued.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from core import audit, db
from core.bus import get_bus
from core.errors import Conflict, InvalidValue, NotFound
from core.identifiers import fold
from core.outbox import enqueue
from core.settings import get_settings
from core.tenancy import tenant_transaction
from tenants.accounts.tables import TENANT_STATUSES, Tenant

_CODE = re.compile(r"^[0-9A-Za-z]{1,32}$")


@dataclass(frozen=True, slots=True)
class TenantInfo:
    id: int
    prefix: str
    name: str
    status: str
    code: str


def _info(row: dict) -> TenantInfo:
    return TenantInfo(
        id=row["id"], prefix=row["prefix"], name=row["name"], status=row["status"], code=row["code"]
    )


async def _next_code() -> str:
    rows = await Tenant.select(Tenant.code).run()
    numeric = [int(r["code"]) for r in rows if r["code"].isdigit()]
    return str(max(numeric, default=0) + 1)


class CodeRace(Exception):
    """The prefix was taken by an allocation committed after this one read the codes.

    On PostgreSQL the unique violation behind it has aborted the transaction, so only
    whoever owns the transaction can retry, in a new one. Never shown to a user.
    """

    def __init__(self, prefix: str) -> None:
        super().__init__(prefix)
        self.prefix = prefix


async def insert_tenant(name: str, *, code: str | None, status: str, actor: str) -> TenantInfo:
    """One attempt at a new tenant inside the caller's transaction: the tenant row, its
    audit row and its ``upstream.tenant`` outbox row.

    A preferred ``code`` already allocated raises ``Conflict``; losing a race for the
    prefix (automatic or preferred) raises ``CodeRace``. The caller publishes
    ``tenant:<prefix>`` after its commit.
    """
    name = name.strip()
    if not name:
        raise InvalidValue("the tenant name is empty", field="name")
    if len(name) > 255:
        raise InvalidValue("the tenant name is longer than 255 characters", field="name")
    if status not in TENANT_STATUSES:
        raise InvalidValue(f"unknown status {status!r}", field="status")
    if code is not None and not _CODE.match(code):
        raise InvalidValue(f"enterprise code {code!r} must be 1-32 letters or digits", field="code")
    chosen = fold(code) if code is not None else await _next_code()
    prefix = f"{fold(get_settings().node_prefix)}.{chosen}"
    # An automatic code is free unless another allocation commits first; the unique
    # index catches that, so only a preferred code is looked up beforehand.
    if code is not None and await Tenant.exists().where(Tenant.prefix == prefix).run():
        raise Conflict(f"prefix {prefix} is already allocated and is never reused", field="code")
    now = datetime.now(UTC)
    try:
        row = (
            await Tenant.insert(
                Tenant(
                    prefix=prefix,
                    code=chosen,
                    name=name,
                    status=status,
                    created_at=now,
                    updated_at=now,
                )
            )
            .returning(*Tenant.all_columns())
            .run()
        )[0]
    except Exception as exc:
        if db.is_unique_violation(exc):
            raise CodeRace(prefix) from exc
        raise
    # The new tenant's first rows: its transaction from here on acts for it.
    async with tenant_transaction(row["id"]):
        await audit.record(
            actor=actor,
            action="tenant.create",
            target=prefix,
            tenant_id=row["id"],
            detail={"name": name, "status": status},
        )
        await enqueue("upstream.tenant", {"prefix": prefix, "op": "add"}, tenant_id=row["id"])
    return _info(row)


async def create_tenant(
    name: str, *, code: str | None = None, status: str = "active", actor: str = "cli"
) -> TenantInfo:
    """Allocate a prefix in a transaction of its own.

    Inside an outer transaction a lost race cannot be retried here (see ``CodeRace``);
    such callers use ``insert_tenant`` and retry their whole transaction.
    """
    for _attempt in range(5):
        try:
            async with db.write_transaction():
                tenant = await insert_tenant(name, code=code, status=status, actor=actor)
        except CodeRace as race:
            if code is not None:
                raise Conflict(f"prefix {race.prefix} is already allocated", field="code") from None
            continue
        await get_bus().publish(f"tenant:{tenant.prefix}")
        return tenant
    raise Conflict("could not allocate a prefix; try again")


async def list_tenants() -> list[TenantInfo]:
    rows = await Tenant.select().order_by(Tenant.id).run()
    return [_info(r) for r in rows]


async def find_by_prefix(prefix: str) -> TenantInfo | None:
    """The tenant holding exactly this prefix (ASCII case-insensitive), or None.

    The one prefix -> tenant look-up: the resolver walks a derived prefix's parents
    through it, and HTTP Basic, the CLI, SNMS and the consoles all call it."""
    row = await Tenant.select().where(Tenant.prefix == fold(prefix)).first().run()
    return None if row is None else _info(row)


async def get_by_prefix(prefix: str) -> TenantInfo:
    """``find_by_prefix``, or NotFound naming the prefix."""
    info = await find_by_prefix(prefix)
    if info is None:
        raise NotFound(f"no tenant has the prefix {prefix}", field="tenant")
    return info


async def set_status(prefix: str, status: str, *, actor: str, reason: str) -> TenantInfo:
    if status not in TENANT_STATUSES:
        raise InvalidValue(f"unknown status {status!r}", field="status")
    tenant = await get_by_prefix(prefix)
    async with tenant_transaction(tenant.id):
        await (
            Tenant.update({Tenant.status: status, Tenant.updated_at: datetime.now(UTC)})
            .where(Tenant.id == tenant.id)
            .run()
        )
        await audit.record(
            actor=actor,
            action=f"tenant.{status}",
            target=tenant.prefix,
            tenant_id=tenant.id,
            detail={"reason": reason, "from": tenant.status},
        )
        await enqueue(
            "upstream.tenant",
            {"prefix": tenant.prefix, "op": "status", "status": status},
            tenant_id=tenant.id,
        )
    await get_bus().publish(f"tenant:{tenant.prefix}")
    return TenantInfo(tenant.id, tenant.prefix, tenant.name, status, tenant.code)
