"""A tenant's OAuth2 machine clients, and the node's keys that sign their tokens."""

from __future__ import annotations

from piccolo.columns import ForeignKey, OnDelete, Serial, Text, Timestamptz, Varchar
from piccolo.table import Table

from tenants.accounts.tables import Tenant


class OAuthClient(Table, tablename="oauth_clients"):
    id: Serial
    tenant_id = ForeignKey(Tenant, on_delete=OnDelete.restrict, null=False, index=True)
    # Shown in lists and sent by the client; looked up before the tenant is known.
    client_id = Varchar(length=64, unique=True)
    # SHA-256 of the secret: 256 random bits need no slow hash (as API keys, core/auth.py).
    secret_hash = Varchar(length=128)
    name = Varchar(length=255, default="")
    scopes = Varchar(length=255, default="read")
    # Comma-separated CIDRs the client may call from; empty: any address.
    allowed_ips = Varchar(length=2000, default="")
    created_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)


class SigningKey(Table, tablename="oauth_signing_keys"):
    """The node's ES256 keys. One signs (``retired_at`` NULL); retired ones are still
    published and still verify until every token they signed has expired."""

    id: Serial
    kid = Varchar(length=64, unique=True)
    # The private JWK, encrypted with the node's secret key (core/crypto.py).
    private_jwk = Text()
    public_jwk = Text()
    created_at = Timestamptz()
    retired_at = Timestamptz(null=True, default=None)
