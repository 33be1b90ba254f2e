"""The servers of a self-deployed tenant's own Handle service, one row each."""

from __future__ import annotations

from piccolo.columns import (
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.constraints import Unique
from piccolo.table import Table

from tenants.accounts.tables import Tenant


class EnterpriseServer(Table, tablename="enterprise_servers"):
    """One server of an HS_SITE: its address (IPv4 or IPv6, as HS_SITE carries 16-byte
    addresses and no names), the port it answers UDP/TCP on, the protocols it speaks,
    an HTTP port when it speaks HTTP, and its public key (base64 of hdllib's binary
    form, RSA or DSA; "" when the enterprise gave none)."""

    id: Serial
    tenant_id = ForeignKey(Tenant, on_delete=OnDelete.restrict, null=False, index=True)
    server_id = Integer()
    address = Varchar(length=64)
    port = Integer(default=2641)
    protocols = Varchar(length=32, default="udp,tcp")
    http_port = Integer(default=0)
    public_key = Text(default="")
    created_at = Timestamptz()
    unique_server = Unique(["tenant_id", "server_id"], name="enterprise_servers_tenant_server")


class EnterpriseServerRequest(Table, tablename="enterprise_server_requests"):
    """A change of servers (or back to delegated) the tenant asked for in its console,
    waiting for staff review; applied by the approval (docs/enterprise.md)."""

    id: Serial
    tenant_id = ForeignKey(Tenant, on_delete=OnDelete.restrict, null=False, index=True)
    delegated = Boolean(default=False)
    servers = Text(default="")  # HOST:PORT[,HOST:PORT…] as entered (parsed on entry)
    protocols = Varchar(length=32, default="udp,tcp")
    http_port = Integer(default=0)
    public_key = Text(default="")
    status = Varchar(length=16, default="pending")  # pending, approved, rejected, withdrawn
    requested_by = Varchar(length=255, default="")
    created_at = Timestamptz()
    decided_by = Varchar(length=255, default="")
    decided_at = Timestamptz(null=True, default=None)
    reason = Varchar(length=1024, default="")
