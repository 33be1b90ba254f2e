"""Staff review of applications: take into review, approve or reject.

Approving allocates the prefix through ``insert_tenant`` and makes the applicant the
tenant's owner, in one transaction with the application's status, its audit rows and
the ``upstream.enterprise`` outbox row; a concurrent allocation of the same code is
retried in a new transaction. Every transition is audited.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from core import audit, db
from core.bus import get_bus
from core.errors import Conflict, InvalidValue, NotFound
from core.mail import send_mail
from core.outbox import enqueue
from core.tenancy import tenant_transaction
from tenants.accounts.services.tenants import CodeRace, TenantInfo, insert_tenant
from tenants.accounts.tables import Membership
from tenants.onboarding.services.applications import base_url, code_taken, get_application
from tenants.onboarding.tables import Application

log = logging.getLogger("idnest.onboarding")


async def _locked(app_id: int) -> dict[str, Any]:
    """The application, safe from a concurrent decision until the transaction ends.

    On SQLite ``write_transaction`` (BEGIN IMMEDIATE) already serialises writers; on
    PostgreSQL the row lock makes a second reviewer wait and then read the first one's
    outcome, so two decisions cannot both pass the status check.
    """
    query = Application.select(Application.id).where(Application.id == app_id)
    if isinstance(db.engine(), db.PostgresEngine):
        query = query.lock_rows("UPDATE")
    if await query.first().run() is None:
        raise NotFound("no such application", field="application")
    return await get_application(app_id)


async def _transition(
    app_id: int, allowed: tuple[str, ...], new: str, *, actor: str, reason: str = ""
) -> dict[str, Any]:
    """Change the status inside the caller's write transaction, with its audit row."""
    app = await _locked(app_id)
    if app["status"] not in allowed:
        raise InvalidValue(
            f"the application is {app['status']}; it cannot become {new}", field="status"
        )
    now = datetime.now(UTC)
    changes: dict[Any, Any] = {Application.status: new, Application.updated_at: now}
    if new in ("approved", "rejected"):
        changes[Application.decided_at] = now
        changes[Application.decided_by] = actor
        changes[Application.rejection_reason] = reason
    await Application.update(changes).where(Application.id == app_id).run()
    await audit.record(
        actor=actor,
        action=f"application.{new}",
        target=app["credit_code"],
        detail={"application": app_id, "reason": reason, "from": app["status"]},
    )
    return app


async def start_review(app_id: int, *, actor: str) -> None:
    async with db.write_transaction():
        await _transition(app_id, ("submitted",), "in_review", actor=actor)


async def reject(app_id: int, *, actor: str, reason: str) -> None:
    reason = reason.strip()
    if not reason:
        raise InvalidValue("a rejection needs a reason", field="reason")
    async with db.write_transaction():
        app = await _transition(
            app_id, ("submitted", "in_review"), "rejected", actor=actor, reason=reason
        )
    await send_mail(
        app["contact_email"],
        "idnest: 申请被退回 / application returned",
        f"您的申请被退回，原因：\nYour application was returned for this reason:\n\n{reason}\n\n"
        f"{base_url()}/application\n",
    )


async def _approve_once(app_id: int, *, actor: str) -> tuple[dict[str, Any], TenantInfo]:
    """One attempt, in one transaction: the decision, the tenant, the owner, the outbox."""
    async with db.write_transaction():
        app = await _transition(app_id, ("submitted", "in_review"), "approved", actor=actor)
        code = app["preferred_code"] or None
        if code and await code_taken(code):
            code = None
        tenant = await insert_tenant(app["company_name"], code=code, status="active", actor=actor)
        await (
            Application.update({Application.approved_tenant_id: tenant.id})
            .where(Application.id == app_id)
            .run()
        )
        # The new tenant's own rows, in this same transaction.
        async with tenant_transaction(tenant.id):
            await Membership.insert(
                Membership(
                    tenant_id=tenant.id,
                    user=app["user_id"],
                    role="owner",
                    created_at=datetime.now(UTC),
                )
            ).run()
            await enqueue(
                "upstream.enterprise",
                {"prefix": tenant.prefix, "op": "approve", "credit_code": app["credit_code"]},
                tenant_id=tenant.id,
            )
    return app, tenant


async def approve(app_id: int, *, actor: str) -> str:
    """Allocate the prefix (the preferred code if still free), activate, make the owner.

    Everything commits together or not at all, so a failure leaves the application as it
    was and no tenant behind. A lost race for the prefix aborts the transaction on
    PostgreSQL, so the whole attempt is retried; the next one sees the winner's code
    (and falls back to an automatic code if the preferred one went).

    An exception from here always means nothing was committed: the cache notice and the
    mail after the commit are logged when they fail, since the approval stands.
    """
    for _attempt in range(5):
        try:
            app, tenant = await _approve_once(app_id, actor=actor)
        except CodeRace:
            continue
        break
    else:
        raise Conflict("could not allocate a prefix; try again")
    try:
        await get_bus().publish(f"tenant:{tenant.prefix}")
    except Exception:
        log.exception("approved %s; publishing tenant:%s failed", app_id, tenant.prefix)
    try:
        await send_mail(
            app["contact_email"],
            "idnest: 申请已通过 / application approved",
            f"企业前缀 / enterprise prefix: {tenant.prefix}\n\n{base_url()}/login\n",
        )
    except Exception:
        log.exception("approved %s as %s; the approval mail failed", app_id, tenant.prefix)
    return tenant.prefix
