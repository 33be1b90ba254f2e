"""Dunning on a controllable clock: a failed payment opens grace with reminders every few
days; past grace the tenant's writes are suspended (resolution goes on); a payment brings
writes back at once; every step is in the audit log."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


async def _audit(tenant_id: int) -> list[str]:
    from core.tables import AuditLog
    from core.tenancy import tenant_transaction

    async with tenant_transaction(tenant_id, write=False):
        rows = (
            await AuditLog.select(AuditLog.action)
            .where((AuditLog.tenant_id == tenant_id) & AuditLog.action.like("billing.dunning.%"))
            .order_by(AuditLog.id)
        )
    return [r["action"] for r in rows]


async def _owner(tenant_id: int) -> str:
    from core.tenancy import tenant_transaction
    from tenants.accounts.tables import Membership, User

    email = f"owner-{uuid.uuid4().hex[:10]}@dunning.example"
    now = datetime.now(UTC)
    [user] = await User.insert(User(email=email, created_at=now)).returning(User.id)
    async with tenant_transaction(tenant_id):
        await Membership.insert(
            Membership(tenant_id=tenant_id, user=user["id"], role="owner", created_at=now)
        )
    return email


def _mails(to: str) -> list[str]:
    from core.mail import mail_dir

    folder = mail_dir()
    texts = (
        [p.read_text("utf-8", "replace") for p in folder.glob("*.eml")] if folder.exists() else []
    )
    return [t for t in texts if f"To: {to}" in t]


async def test_grace_reminders_suspension_and_payment(client, tenant_a, tenant_b, settings):
    from billing.payments.services import dunning

    owner = await _owner(tenant_a.id)
    cfg = settings.model_copy(update={"dunning_grace_days": 10, "dunning_reminder_days": 3})
    assert await dunning.open_case(
        tenant_a.id, invoice_number="INV-1", reason="overdue", settings=cfg, now=T0
    )
    assert not await dunning.open_case(
        tenant_a.id, invoice_number="INV-1", reason="again", settings=cfg, now=T0
    )
    runs = []
    for day in (0, 1, 3, 9):
        runs.append(await dunning.run_dunning(cfg, now=T0 + timedelta(days=day, hours=1)))
    assert [r.reminded for r in runs] == [1, 0, 1, 1]
    assert await dunning.writes_allowed(tenant_a.id)
    done = await dunning.run_dunning(cfg, now=T0 + timedelta(days=10, hours=1))
    assert done.suspended == 1
    assert not await dunning.writes_allowed(tenant_a.id)
    assert await dunning.writes_allowed(tenant_b.id)  # B is not touched
    # Nothing more happens to a suspended case until it is paid.
    again = await dunning.run_dunning(cfg, now=T0 + timedelta(days=12))
    assert (again.reminded, again.suspended) == (0, 0)
    assert await dunning.close_cases(tenant_a.id, why="bank transfer", now=T0 + timedelta(days=12))
    assert await dunning.writes_allowed(tenant_a.id)
    assert await _audit(tenant_a.id) == [
        "billing.dunning.opened",
        "billing.dunning.reminded",
        "billing.dunning.reminded",
        "billing.dunning.reminded",
        "billing.dunning.suspended",
        "billing.dunning.closed",
    ]
    assert await _audit(tenant_b.id) == []
    mails = _mails(owner)
    assert len(mails) == 4
    assert sum("writes suspended" in m for m in mails) == 1


async def test_suspended_tenant_cannot_register_but_still_resolves(client, tenant_a, settings):
    from billing.payments.services import dunning

    put = {"values": [{"index": 1, "type": "URL", "data": "https://example.com/d"}]}
    r = await client.put(f"/api/handles/{tenant_a.prefix}/D-1", json=put, headers=tenant_a.auth())
    assert r.status_code in (200, 201), r.text
    cfg = settings.model_copy(update={"dunning_grace_days": 0})
    await dunning.open_case(
        tenant_a.id, invoice_number="INV-202611-9", reason="overdue", settings=cfg, now=T0
    )
    await dunning.run_dunning(cfg, now=T0 + timedelta(hours=1))
    r = await client.put(f"/api/handles/{tenant_a.prefix}/D-2", json=put, headers=tenant_a.auth())
    assert r.status_code == 402 and r.json()["responseCode"] == 604
    assert "INV-202611-9" in r.json()["detail"] and "suspended" in r.json()["detail"]
    assert (await client.get(f"/api/handles/{tenant_a.prefix}/D-1")).status_code == 200
    await dunning.close_cases(tenant_a.id, why="paid")
    r = await client.put(f"/api/handles/{tenant_a.prefix}/D-2", json=put, headers=tenant_a.auth())
    assert r.status_code in (200, 201)
