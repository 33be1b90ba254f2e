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
from core.errors import Conflict, IdnestError, InvalidValue, NotFound
from core.identifiers import fold
from core.outbox import enqueue
from core.settings import get_settings
from tenants.tables import TENANT_STATUSES, Tenant

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


async def create_tenant(
    name: str, *, code: str | None = None, status: str = "active", actor: str = "cli"
) -> TenantInfo:
    name = name.strip()
    if not name:
        raise InvalidValue("the tenant name is empty", field="name")
    if len(name) > 255:
        raise InvalidValue("the tenant name is longer than 255 characters", field="name")
    if status not in TENANT_STATUSES:
        raise InvalidValue(f"unknown status {status!r}", field="status")
    if code is not None and not _CODE.match(code):
        raise InvalidValue(f"enterprise code {code!r} must be 1-32 letters or digits", field="code")
    node_prefix = fold(get_settings().node_prefix)
    for _attempt in range(5):
        chosen = fold(code) if code is not None else await _next_code()
        prefix = f"{node_prefix}.{chosen}"
        now = datetime.now(UTC)
        try:
            async with db.write_transaction():
                if await Tenant.exists().where(Tenant.prefix == prefix).run():
                    if code is not None:
                        raise Conflict(
                            f"prefix {prefix} is already allocated and is never reused",
                            field="code",
                        )
                    continue
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
                await audit.record(
                    actor=actor,
                    action="tenant.create",
                    target=prefix,
                    tenant_id=row["id"],
                    detail={"name": name, "status": status},
                )
                await enqueue(
                    "upstream.tenant", {"prefix": prefix, "op": "add"}, tenant_id=row["id"]
                )
        except IdnestError:
            raise
        except Exception as exc:
            if db.is_unique_violation(exc):
                if code is not None:
                    raise Conflict(f"prefix {prefix} is already allocated", field="code") from None
                continue
            raise
        await get_bus().publish(f"tenant:{prefix}")
        return _info(row)
    raise Conflict("could not allocate a prefix; try again")


async def list_tenants() -> list[TenantInfo]:
    rows = await Tenant.select().order_by(Tenant.id).run()
    return [_info(r) for r in rows]


async def get_by_prefix(prefix: str) -> TenantInfo:
    row = await Tenant.select().where(Tenant.prefix == fold(prefix)).first().run()
    if row is None:
        raise NotFound(f"no tenant has the prefix {prefix}", field="tenant")
    return _info(row)


async def set_status(prefix: str, status: str, *, actor: str, reason: str) -> TenantInfo:
    if status not in TENANT_STATUSES:
        raise InvalidValue(f"unknown status {status!r}", field="status")
    tenant = await get_by_prefix(prefix)
    async with db.write_transaction():
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
