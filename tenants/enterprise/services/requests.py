"""Changes of deployment a tenant asks for in its console, reviewed by staff.

A tenant's owner or admin enters its servers (or asks to be delegated again); the request
is checked at once (the same parser as the CLI) and parked, one pending per tenant (a
new one withdraws the old). A reviewer approves it, which applies it through
``servers.set_servers`` / ``set_delegated``, or rejects it with a reason. Staff on the
CLI (``idnest tenant servers``) act directly: they are the review.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core import audit
from core.errors import InvalidValue, NotFound
from core.tenancy import cross_tenant, tenant_transaction
from tenants.accounts.tables import Tenant
from tenants.enterprise.services.servers import parse_servers, set_delegated, set_servers
from tenants.enterprise.tables import EnterpriseServerRequest as Req

PENDING = "pending"


async def request_change(
    tenant_id: int, *, delegated: bool, servers: str = "", protocols: str = "udp,tcp",
    http_port: int = 0, public_key: str = "", actor: str,
) -> dict[str, Any]:  # fmt: skip
    """Park a change for review; InvalidValue (nothing parked) when it does not parse."""
    if not delegated:
        parsed = parse_servers(servers, protocols=protocols, http_port=http_port,
                               public_key=public_key)  # fmt: skip
        servers = ",".join(s.endpoint for s in parsed)
    now = datetime.now(UTC)
    async with tenant_transaction(tenant_id):
        await Req.update({Req.status: "withdrawn", Req.decided_at: now}).where(
            (Req.tenant_id == tenant_id) & (Req.status == PENDING)
        )
        row = (
            await Req.insert(
                Req(tenant_id=tenant_id, delegated=delegated, servers="" if delegated else servers,
                    protocols=protocols, http_port=http_port, public_key=public_key,
                    status=PENDING, requested_by=actor, created_at=now)
            ).returning(*Req.all_columns())
        )[0]  # fmt: skip
        await audit.record(actor=actor, action="tenant.servers.request", tenant_id=tenant_id,
                           target=str(row["id"]),
                           detail={"delegated": delegated, "servers": row["servers"]})  # fmt: skip
    return dict(row)


async def pending_of(tenant_id: int) -> dict[str, Any] | None:
    async with tenant_transaction(tenant_id, write=False):
        row = await (
            Req.select()
            .where((Req.tenant_id == tenant_id) & (Req.status == PENDING))
            .order_by(Req.id, ascending=False)
            .first()
        )
    return row


async def pending_all(limit: int = 200) -> list[dict[str, Any]]:
    """Every tenant's pending request with its prefix, oldest first (staff review)."""
    async with cross_tenant("staff"):
        rows = await Req.select().where(Req.status == PENDING).order_by(Req.id).limit(limit)
        ids = {r["tenant_id"] for r in rows}
        names = (
            {t["id"]: t for t in await Tenant.select().where(Tenant.id.is_in(list(ids)))}
            if ids
            else {}
        )  # fmt: skip
    return [{**r, "prefix": names[r["tenant_id"]]["prefix"],
             "tenant_name": names[r["tenant_id"]]["name"]} for r in rows]  # fmt: skip


async def decide(prefix: str, *, accept: bool, actor: str, reason: str = "") -> None:
    """Approve (apply) or reject the tenant's pending request."""
    tenant = await Tenant.select().where(Tenant.prefix == prefix).first()
    if tenant is None:
        raise NotFound(f"no tenant has the prefix {prefix}", field="tenant")
    pending = await pending_of(tenant["id"])
    if pending is None:
        raise InvalidValue("no change of servers is waiting for review", field="status")
    if accept and pending["delegated"]:
        await set_delegated(prefix, actor=actor)
    elif accept:
        await set_servers(prefix, parse_servers(
            pending["servers"], protocols=pending["protocols"], http_port=pending["http_port"],
            public_key=pending["public_key"]), actor=actor)  # fmt: skip
    async with tenant_transaction(tenant["id"]):
        await Req.update({Req.status: "approved" if accept else "rejected",
                          Req.decided_by: actor, Req.decided_at: datetime.now(UTC),
                          Req.reason: reason[:1024]}).where(Req.id == pending["id"])  # fmt: skip
        await audit.record(actor=actor, tenant_id=tenant["id"], target=str(pending["id"]),
                           action="tenant.servers." + ("approve" if accept else "reject"),
                           detail={"reason": reason[:1024]})  # fmt: skip
