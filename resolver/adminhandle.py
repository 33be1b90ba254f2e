"""Each tenant's admin handle ``{prefix}/admin``, which resolves even before it is stored.

Handle clients log in as ``300:{prefix}/admin`` and first GET that handle (pyhandle
stops when it is missing); ``0.NA/{prefix}`` names it as the prefix's administrator.
A tenant stores it once it provisions a credential there (``idnest credential add``,
or a PUT); until then, and for every tenant created before this existed, the resolver
answers with this record: one HS_ADMIN value, the prefix handle administering it.
Nothing stored is shown in its place, so no secret can be: a stored record is served
as any other, its HS_SECKEY values never public (core.values).
"""

from __future__ import annotations

from core.identifiers import Handle, fold
from core.values import HandleValue, default_admin_value

ADMIN_SUFFIX = "admin"
_EPOCH = "1970-01-01T00:00:00Z"


def is_admin_handle(handle: Handle, tenant_prefix: str) -> bool:
    """``{tenant prefix}/admin`` itself (any case), not one under a derived prefix."""
    return fold(handle.suffix) == ADMIN_SUFFIX and fold(handle.prefix) == fold(tenant_prefix)


def admin_handle_text(tenant_prefix: str) -> str:
    return f"{tenant_prefix}/{ADMIN_SUFFIX}"


def admin_handle_values(tenant_prefix: str) -> list[HandleValue]:
    return [default_admin_value(tenant_prefix, _EPOCH)]
