"""Approval is one transaction: the decision, the tenant, its owner and outbox rows
commit together or not at all, and the mail goes out only after the commit."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from node_support import as_node
from portal_support import (
    Web,
    clean_credit_code,
    last_link,
    licence,
    mails_to,
    signup_form,
    staff_login,
)

from tenants.onboarding.services import review

pytestmark = pytest.mark.anyio


async def _submitted(web: Web, **over: str) -> tuple[int, dict[str, Any]]:
    """A confirmed (submitted) application; returns its id and the form used."""
    from tenants.onboarding.tables import Application

    form = signup_form(credit_code=await clean_credit_code(), **over)
    r = await web.post("/signup", form, form_page="/signup", files=licence())
    assert r.status_code == 303, r.text
    assert (await web.get(last_link(form["contact_email"], "/confirm/"))).status_code == 200
    row = (
        await Application.select(Application.id)
        .where(Application.credit_code == form["credit_code"])
        .first()
        .run()
    )
    return row["id"], form


def _fail_enterprise_enqueue(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the last write of an approval, after the tenant row is in."""
    from tenants.onboarding.services import review

    real = review.enqueue

    async def enqueue(topic: str, payload: dict[str, Any], **kw: Any) -> None:
        if topic == "upstream.enterprise":
            raise RuntimeError("injected outbox failure")
        await real(topic, payload, **kw)

    monkeypatch.setattr(review, "enqueue", enqueue)


async def _high_water() -> tuple[int, int, int]:
    from core.tables import AuditLog, Outbox
    from tenants.accounts.tables import Tenant

    async def top(table: Any) -> int:
        row = await table.select(table.id).order_by(table.id, ascending=False).first().run()
        return row["id"] if row else 0

    async with as_node():
        return await top(Tenant), await top(AuditLog), await top(Outbox)


async def test_a_failed_approval_leaves_nothing_behind(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.tables import AuditLog, Outbox
    from tenants.accounts.tables import Membership, Tenant
    from tenants.onboarding.tables import Application

    preferred = "Q" + (await clean_credit_code())[-8:]
    app_id, form = await _submitted(web, preferred_code=preferred)
    await review.start_review(app_id, actor="staff:test")
    tenants, audits, outbox = await _high_water()
    mails = len(mails_to(form["contact_email"]))

    _fail_enterprise_enqueue(monkeypatch)
    with pytest.raises(RuntimeError, match="injected"):
        await review.approve(app_id, actor="staff:test")

    assert not await Tenant.exists().where(Tenant.id > tenants).run()
    async with as_node():
        assert not await AuditLog.exists().where(AuditLog.id > audits).run()
    async with as_node():
        assert not await Outbox.exists().where(Outbox.id > outbox).run()
    row = await Application.select().where(Application.id == app_id).first().run()
    assert row["status"] == "in_review" and row["approved_tenant_id"] is None
    async with as_node():
        assert not await Membership.exists().where(Membership.user == row["user_id"]).run()
    assert len(mails_to(form["contact_email"])) == mails

    monkeypatch.undo()
    prefix = await review.approve(app_id, actor="staff:test")
    assert prefix == f"88.100.{preferred.lower()}"
    row = await Application.select().where(Application.id == app_id).first().run()
    assert row["status"] == "approved" and row["approved_tenant_id"]
    async with as_node():
        assert await (
            Membership.exists()
            .where(
                (Membership.tenant_id == row["approved_tenant_id"]) & (Membership.role == "owner")
            )
            .run()
        )
    query = Outbox.select(Outbox.topic).where(Outbox.tenant_id == row["approved_tenant_id"])
    async with as_node():
        topics = {r["topic"] for r in await query.run()}
    assert topics == {"upstream.tenant", "upstream.enterprise"}
    assert len(mails_to(form["contact_email"])) == mails + 1


async def test_staff_see_a_failed_approval_as_an_error_not_a_500(
    web: Web, web2: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tenants.onboarding.tables import Application

    app_id, _form = await _submitted(web2)
    await staff_login(web, "reviewer")
    base = f"/staff/applications/{app_id}"
    _fail_enterprise_enqueue(monkeypatch)
    r = await web.post(f"{base}/approve", form_page=base)
    assert r.status_code == 503
    assert 'role="alert"' in r.text and "未分配任何前缀" in r.text
    row = await Application.select().where(Application.id == app_id).first().run()
    assert row["status"] == "submitted" and row["approved_tenant_id"] is None
    monkeypatch.undo()
    assert (await web.post(f"{base}/approve", form_page=base)).status_code == 303


async def test_preferred_code_taken_after_submit_falls_back_to_a_number(web: Web) -> None:
    from tenants.accounts.services.tenants import create_tenant

    preferred = "R" + (await clean_credit_code())[-8:]
    app_id, _form = await _submitted(web, preferred_code=preferred)
    squatter = await create_tenant("Squatter", code=preferred, actor="test")
    prefix = await review.approve(app_id, actor="staff:test")
    assert prefix != squatter.prefix
    assert prefix.rsplit(".", 1)[1].isdigit()


async def test_a_lost_race_for_the_code_retries_the_whole_approval(
    web: Web, tenant_a: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first attempt picks a taken code and hits the unique index (on PostgreSQL that
    aborts the transaction); the retry, in a new transaction, takes the next one."""
    from core.tables import AuditLog
    from tenants.accounts.services import tenants

    real = tenants._next_code
    calls = 0

    async def next_code() -> str:
        nonlocal calls
        calls += 1
        return tenant_a.prefix.rsplit(".", 1)[1] if calls == 1 else await real()

    monkeypatch.setattr(tenants, "_next_code", next_code)
    app_id, form = await _submitted(web)
    prefix = await review.approve(app_id, actor="staff:test")
    assert calls == 2 and prefix != tenant_a.prefix
    async with as_node():
        approvals = (
            await AuditLog.count()
            .where(
                (AuditLog.target == form["credit_code"])
                & (AuditLog.action == "application.approved")
            )
            .run()
        )
    assert approvals == 1


async def test_two_applications_approved_at_once_get_two_prefixes(web: Web) -> None:

    first, _ = await _submitted(web)
    second, _ = await _submitted(web)
    prefixes = await asyncio.gather(
        review.approve(first, actor="a"), review.approve(second, actor="b")
    )
    assert len(set(prefixes)) == 2


async def test_approve_and_reject_at_once_decide_once(web: Web) -> None:
    from tenants.accounts.tables import Tenant
    from tenants.onboarding.tables import Application

    app_id, _form = await _submitted(web)
    before = await Tenant.count().run()
    results = await asyncio.gather(
        review.approve(app_id, actor="a"),
        review.reject(app_id, actor="b", reason="duplicate"),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    row = await Application.select().where(Application.id == app_id).first().run()
    approved = isinstance(results[0], str)
    assert row["status"] == ("approved" if approved else "rejected")
    assert await Tenant.count().run() == before + (1 if approved else 0)
    assert (row["approved_tenant_id"] is not None) == approved


async def test_a_mail_failure_after_the_commit_does_not_undo_the_approval(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tenants.onboarding.tables import Application

    async def send_mail(*_a: Any) -> None:
        raise OSError("injected SMTP failure")

    app_id, _form = await _submitted(web)
    monkeypatch.setattr(review, "send_mail", send_mail)
    prefix = await review.approve(app_id, actor="staff:test")
    row = await Application.select().where(Application.id == app_id).first().run()
    assert row["status"] == "approved" and prefix.startswith("88.100.")
