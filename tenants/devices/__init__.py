"""Device credentials for active carriers (主动标识): an identifier of an active-carrier
template that carries an HS_PUBKEY (or HS_SECKEY) authenticates as that device, never as
its tenant. docs/access.md, "Devices"."""
