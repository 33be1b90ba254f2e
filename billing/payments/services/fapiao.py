"""Fapiao (发票) data: the tenant's invoicing details (开票信息), and the rows a
tax-control system (税控系统) imports to issue a VAT fapiao per invoice.

The taxpayer id is the unified social credit code (统一社会信用代码) the tenant signed up
with: when its approved application has one, that is the id, and the tenant cannot
change it; a tenant made without an application (the CLI) enters it, checked for the
code's 18-character alphabet. Amounts on invoices include VAT; the export splits each
total into the amount without tax and the tax at ``IDNEST_FAPIAO_TAX_RATE``, rounded half
up to the fen, so the two always add up to the total.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from billing.payments.tables import FapiaoProfile
from core import audit
from core.errors import InvalidValue
from core.tenancy import tenant_transaction
from tenants.accounts.tables import Tenant
from tenants.onboarding.tables import Application

USCC = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}")
LIMITS = {"buyer_name": 255, "address_phone": 255, "bank_account": 255}
ITEM_NAME = "*信息技术服务*标识解析服务"


@dataclass
class FapiaoDetails:
    buyer_name: str = ""
    taxpayer_id: str = ""
    address_phone: str = ""
    bank_account: str = ""
    taxpayer_id_fixed: bool = False


async def _application(tenant_id: int) -> dict[str, Any] | None:
    return await (
        Application.select(Application.company_name, Application.credit_code, Application.address)
        .where(Application.approved_tenant_id == tenant_id)
        .first()
    )


async def details(tenant_id: int) -> FapiaoDetails:
    """The tenant's details, filled from its application where it has not said more."""
    app = await _application(tenant_id)
    async with tenant_transaction(tenant_id, write=False):
        row = await FapiaoProfile.select().where(FapiaoProfile.tenant_id == tenant_id).first()
    out = FapiaoDetails()
    if row:
        out = FapiaoDetails(
            row["buyer_name"], row["taxpayer_id"], row["address_phone"], row["bank_account"]
        )
    if app:
        out.taxpayer_id, out.taxpayer_id_fixed = app["credit_code"], True
        out.buyer_name = out.buyer_name or app["company_name"]
        out.address_phone = out.address_phone or app["address"]
    if not out.buyer_name:
        tenant = await Tenant.select(Tenant.name).where(Tenant.id == tenant_id).first()
        out.buyer_name = tenant["name"] if tenant else ""
    return out


def _clean(fields: dict[str, Any], field: str, limit: int) -> str:
    value = str(fields.get(field) or "").strip()
    if len(value) > limit or any(ord(c) < 32 for c in value):
        raise InvalidValue(f"{field}: at most {limit} printable characters", field=field)
    return value


async def save(tenant_id: int, fields: dict[str, Any], *, actor: str) -> FapiaoDetails:
    """Keep the tenant's details (the taxpayer id only where it is not the signed-up one)."""
    clean = {f: _clean(fields, f, n) for f, n in LIMITS.items()}
    if not clean["buyer_name"]:
        raise InvalidValue("buyer_name: the buyer's name is required", field="buyer_name")
    current = await details(tenant_id)
    taxpayer = current.taxpayer_id
    if not current.taxpayer_id_fixed:
        taxpayer = _clean(fields, "taxpayer_id", 18).upper()
        if taxpayer and not USCC.fullmatch(taxpayer):
            raise InvalidValue(
                "taxpayer_id: an 18-character unified social credit code", field="taxpayer_id"
            )
    now = datetime.now(UTC)
    async with tenant_transaction(tenant_id):
        await FapiaoProfile.delete().where(FapiaoProfile.tenant_id == tenant_id)
        await FapiaoProfile.insert(
            FapiaoProfile(
                tenant_id=tenant_id,
                buyer_name=clean["buyer_name"],
                taxpayer_id=taxpayer,
                address_phone=clean["address_phone"],
                bank_account=clean["bank_account"],
                updated_by=actor,
                updated_at=now,
            )
        ).run()
        await audit.record(
            actor=actor,
            action="billing.fapiao.updated",
            tenant_id=tenant_id,
            detail={"buyer_name": clean["buyer_name"]},
        )
    return await details(tenant_id)


def split_tax(total_fen: int, rate_percent: int) -> tuple[int, int]:
    """(amount without tax, tax) of a tax-inclusive total, half up to the fen."""
    sign = -1 if total_fen < 0 else 1
    whole, rest = divmod(abs(total_fen) * 100, 100 + rate_percent)
    base = sign * (whole + (1 if 2 * rest >= 100 + rate_percent else 0))
    return base, total_fen - base


def as_dict(d: FapiaoDetails) -> dict[str, Any]:
    return asdict(d)
