"""The servers of a self-deployed tenant's own Handle service, one row each."""

from __future__ import annotations

from piccolo.columns import ForeignKey, Integer, OnDelete, Serial, Text, Timestamptz, Varchar
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
