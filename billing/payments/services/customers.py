"""A Stripe customer per tenant, made once and remembered."""

from __future__ import annotations

from datetime import UTC, datetime

from billing.payments.services import gateway
from billing.payments.tables import StripeCustomer
from core.settings import Settings
from core.tenancy import tenant_transaction
from tenants.accounts.tables import Tenant


async def customer_id(tenant_id: int) -> str | None:
    async with tenant_transaction(tenant_id, write=False):
        row = (
            await StripeCustomer.select(StripeCustomer.customer_id)
            .where(StripeCustomer.tenant_id == tenant_id)
            .first()
            .run()
        )
    return row["customer_id"] if row else None


async def ensure_customer(tenant_id: int, settings: Settings) -> str:
    """The tenant's Stripe customer id, creating the customer the first time.

    The idempotency key is the tenant's, so a crash between Stripe's answer and our
    insert makes the same customer again on the retry, not a second one.
    """
    known = await customer_id(tenant_id)
    if known:
        return known
    tenant = await Tenant.select(Tenant.prefix, Tenant.name).where(Tenant.id == tenant_id).first()
    if tenant is None:
        raise LookupError(f"no tenant {tenant_id}")
    made = await gateway.client(settings).v1.customers.create_async(
        params={
            "name": tenant["name"],
            "metadata": {"idnest_tenant_id": str(tenant_id), "idnest_prefix": tenant["prefix"]},
        },
        options={"idempotency_key": f"idnest-customer-{tenant_id}"},
    )
    now = datetime.now(UTC)
    async with tenant_transaction(tenant_id):
        await (
            StripeCustomer.insert(
                StripeCustomer(
                    tenant_id=tenant_id,
                    customer_id=made.id,
                    name=tenant["name"],
                    created_at=now,
                    updated_at=now,
                )
            )
            .on_conflict(action="DO NOTHING")
            .run()
        )
    return await customer_id(tenant_id) or made.id
