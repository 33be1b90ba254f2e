"""A tenant's company profile after approval.

Contact details change at once. Legal fields (company name, credit code) do not: the
change is parked on the application as ``pending_changes`` and a reviewer applies or
discards it, exactly as for a new application.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core import audit
from core.bus import get_bus
from core.errors import InvalidValue, NotFound
from core.outbox import enqueue
from core.tenancy import tenant_transaction
from tenants.accounts.tables import Tenant
from tenants.onboarding.services.applications import application_of_tenant, credit_code_taken
from tenants.onboarding.services.pii import mobile_columns
from tenants.onboarding.services.validation import Checked, check_application
from tenants.onboarding.tables import Application

CONTACT = ("contact_name", "contact_mobile", "region", "address", "endpoints")
LEGAL = ("company_name", "credit_code")


async def update_profile(tenant_id: int, form: dict[str, str], *, actor: str) -> Checked:
    """Apply contact changes, park legal ones. Returns the check (errors mean nothing saved)."""
    app = await application_of_tenant(tenant_id)
    if app is None:
        raise NotFound("this tenant has no application on file", field="tenant")
    merged = {
        k: str(app.get(k) or "")
        for k in (*CONTACT, *LEGAL, "short_name", "contact_email", "industries", "preferred_code")
    }
    merged.update({k: v for k, v in form.items() if k in (*CONTACT, *LEGAL)})
    checked = check_application(merged, need_password=False)
    checked.errors.pop("contact_id", None)
    if (
        "credit_code" not in checked.errors
        and checked.values["credit_code"] != app["credit_code"]
        and await credit_code_taken(checked.values["credit_code"], except_id=app["id"])
    ):
        checked.fail("credit_code", "An application with this credit code already exists.")
    if checked.errors:
        return checked
    legal = {k: checked.values[k] for k in LEGAL if checked.values[k] != app[k]}
    changes: dict[Any, Any] = {
        getattr(Application, k): checked.values[k] for k in CONTACT if k != "contact_mobile"
    }
    changes.update(mobile_columns(checked.values["contact_mobile"]))
    changes[Application.updated_at] = datetime.now(UTC)
    if legal:
        changes[Application.pending_changes] = legal
    async with tenant_transaction(tenant_id):
        await Application.update(changes).where(Application.id == app["id"]).run()
        await audit.record(
            actor=actor,
            action="profile.update",
            target=app["credit_code"],
            tenant_id=tenant_id,
            detail={"pending": legal},
        )
    return checked


async def decide_change(tenant_id: int, *, accept: bool, actor: str, reason: str = "") -> None:
    app = await application_of_tenant(tenant_id)
    if app is None or not app["pending_changes"]:
        raise InvalidValue("no change is waiting for review", field="status")
    pending = app["pending_changes"]
    async with tenant_transaction(tenant_id):
        changes: dict[Any, Any] = {Application.pending_changes: {}}
        if accept:
            for k, v in pending.items():
                changes[getattr(Application, k)] = v
            if "company_name" in pending:
                await (
                    Tenant.update(
                        {Tenant.name: pending["company_name"], Tenant.updated_at: datetime.now(UTC)}
                    )
                    .where(Tenant.id == tenant_id)
                    .run()
                )
            await enqueue("upstream.enterprise", {"op": "profile", **pending}, tenant_id=tenant_id)
        await Application.update(changes).where(Application.id == app["id"]).run()
        await audit.record(
            actor=actor,
            action="profile.accept" if accept else "profile.reject",
            target=app["credit_code"],
            tenant_id=tenant_id,
            detail={"changes": pending, "reason": reason},
        )
    if accept and "company_name" in pending:
        prefix = await Tenant.select(Tenant.prefix).where(Tenant.id == tenant_id).first().run()
        if prefix:
            await get_bus().publish(f"tenant:{prefix['prefix']}")
