"""What every schemes service needs: who may act, and each scheme's validator.

Validators live in ``core.schemes`` and raise `SchemeError`; here they become
``InvalidValue`` (HTTP 400) with the field named, at the one service boundary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from core.auth import Principal
from core.errors import AuthenticationNeeded, InsufficientPermissions, InvalidValue
from core.schemes import SchemeError
from core.schemes.ecode import EcodeRules, EcodeVersionRule, validate_ecode
from core.schemes.gs1 import DigitalLinkKey, parse_digital_link_path
from core.schemes.oid import validate_oid
from core.schemes.vaa import VaaRules, validate_vaa
from core.settings import get_settings
from tenants.accounts.tables import Tenant
from tenants.schemes.tables import SCHEMES

T = TypeVar("T")


@contextmanager
def scheme_field(field: str) -> Iterator[None]:
    """Turn a `SchemeError` into InvalidValue naming `field`."""
    try:
        yield
    except SchemeError as exc:
        raise InvalidValue(f"{field}: {exc.message}", field=field) from None


def checked(field: str, fn: Callable[[], T]) -> T:
    with scheme_field(field):
        return fn()


def require_scheme(scheme: str) -> str:
    if scheme not in SCHEMES:
        raise InvalidValue(
            f"unknown scheme {scheme!r}; use one of {', '.join(SCHEMES)}", field="scheme"
        )
    return scheme


def ecode_rules() -> EcodeRules:
    s = get_settings()
    versions = [v.strip() for v in s.ecode_versions.split(",") if v.strip()]
    return EcodeRules(
        versions={v: EcodeVersionRule() for v in versions},
        version_length=max((len(v) for v in versions), default=1),
        max_length=s.ecode_max_length,
    )


def vaa_rules() -> VaaRules:
    s = get_settings()
    return VaaRules(
        extra_chars=s.vaa_extra_chars,
        max_length=s.vaa_max_length,
        cin_length=s.vaa_cin_length or None,
    )


def gs1_path(text: str, field: str = "key") -> DigitalLinkKey:
    """A GS1 key as a Digital Link path (``/01/9506000134352``) or an element string
    without parentheses is not guessed at: the path form is the one accepted."""
    text = text.strip()
    if not text.startswith("/"):
        text = "/" + text
    return checked(field, lambda: parse_digital_link_path(text))


def canonical_code(scheme: str, code: str, field: str = "code") -> str:
    """The one spelling a code is stored and looked up under; no namespace check."""
    require_scheme(scheme)
    if scheme == "gs1":
        return gs1_path(code, field).canonical_path()
    if scheme == "oid":
        return checked(field, lambda: validate_oid(code.strip()))
    if scheme == "ecode":
        return checked(field, lambda: validate_ecode(code.strip(), rules=ecode_rules()).code)
    return checked(field, lambda: validate_vaa(code.strip(), rules=vaa_rules()).code)


def require(principal: Principal | None, scope: str) -> Principal:
    if principal is None:
        raise AuthenticationNeeded("this operation needs an API key (Authorization: Bearer ...)")
    if principal.tenant_id is None:
        raise InsufficientPermissions("these credentials act for no tenant")
    if not principal.can(scope):
        raise InsufficientPermissions(f"these credentials lack the {scope!r} scope")
    return principal


async def require_active(principal: Principal | None, scope: str = "write") -> Principal:
    """A principal of an active tenant with `scope` (writes need an active tenant)."""
    p = require(principal, scope)
    row = await Tenant.select(Tenant.status).where(Tenant.id == p.tenant_id).first().run()
    if row is None or row["status"] != "active":
        status = row["status"] if row else "gone"
        raise InsufficientPermissions(f"tenant {p.tenant_prefix} is {status}")
    return p
