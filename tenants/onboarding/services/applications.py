"""The application lifecycle: draft → submitted → in_review → approved | rejected.

A signup creates the applicant's user account, the application (draft) and its licence
upload, and mails a confirmation link; confirming submits it. Staff review it
(``review.py``); a rejected application is fixed and resubmitted by its applicant.
Every transition is audited.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core import audit, crypto, db
from core.auth import hash_password
from core.errors import Conflict, InvalidValue, NotFound
from core.identifiers import fold
from core.mail import send_mail
from core.settings import get_settings
from tenants.accounts.tables import Tenant, User
from tenants.onboarding.services import tokens
from tenants.onboarding.services.pii import mobile_columns
from tenants.onboarding.services.validation import Checked, check_endpoint, name_problems
from tenants.onboarding.tables import Application, Upload

log = logging.getLogger("idnest.onboarding")

_EDITABLE = (
    "company_name",
    "short_name",
    "credit_code",
    "industries",
    "region",
    "address",
    "contact_name",
    "contact_mobile",
    "contact_email",
    "preferred_code",
    "endpoints",
)


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


def base_url() -> str:
    s = get_settings()
    return (s.public_base_url or f"http://127.0.0.1:{s.port}").rstrip("/")


async def credit_code_taken(code: str, *, except_id: int | None = None) -> bool:
    query = Application.exists().where(Application.credit_code == code)
    if except_id is not None:
        query = Application.exists().where(
            (Application.credit_code == code) & (Application.id != except_id)
        )
    return bool(await query.run())


async def code_taken(code: str) -> bool:
    prefix = f"{fold(get_settings().node_prefix)}.{fold(code)}"
    return bool(await Tenant.exists().where(Tenant.prefix == prefix).run())


async def check_unique(checked: Checked, *, except_id: int | None = None) -> None:
    """The database-backed checks: duplicate credit code, taken enterprise code."""
    code = checked.values.get("credit_code", "")
    if "credit_code" not in checked.errors and await credit_code_taken(code, except_id=except_id):
        checked.fail("credit_code", "An application with this credit code already exists.")
    pref = checked.values.get("preferred_code", "")
    if pref and "preferred_code" not in checked.errors and await code_taken(pref):
        checked.fail("preferred_code", "This enterprise code is already allocated.")


async def _store_upload(user_id: int, filename: str, ctype: str, data: bytes) -> int:
    row = (
        await Upload.insert(
            Upload(
                user_id=user_id,
                filename=filename[:255] or "licence",
                content_type=ctype,
                size=len(data),
                data=data,
                created_at=datetime.now(UTC),
            )
        )
        .returning(Upload.id)
        .run()
    )
    return int(row[0]["id"])


def _fields(values: dict[str, str]) -> dict[Any, Any]:
    out: dict[Any, Any] = {
        getattr(Application, k): values[k]
        for k in _EDITABLE
        if k in values and k != "contact_mobile"
    }
    if "contact_mobile" in values:
        out.update(mobile_columns(values["contact_mobile"]))
    if values.get("contact_id"):
        out[Application.contact_id_enc] = crypto.encrypt(values["contact_id"])
        out[Application.contact_id_masked] = values["contact_id_masked"]
    return out


async def sign_up(
    values: dict[str, str], password: str, licence: tuple[str, str, bytes]
) -> tuple[int, int]:
    """Create the applicant's account and a draft application; mail the confirmation.

    Returns (user id, application id). The login email is the contact email.
    """
    email = values["contact_email"]
    now = datetime.now(UTC)
    async with db.write_transaction():
        if await User.exists().where(User.email == email).run():
            raise Conflict("an account with this email already exists", field="contact_email")
        user_id = (
            await User.insert(
                User(
                    email=email,
                    password_hash=hash_password(password),
                    display_name=values["contact_name"],
                    created_at=now,
                )
            )
            .returning(User.id)
            .run()
        )[0]["id"]
        upload_id = await _store_upload(user_id, *licence)
        row = Application(
            user_id=user_id, status="draft", licence_id=upload_id, created_at=now, updated_at=now
        )
        for col, val in _fields(values).items():
            setattr(row, col._meta.name, val)
        try:
            app_id = (await Application.insert(row).returning(Application.id).run())[0]["id"]
        except Exception as exc:
            if db.is_unique_violation(exc):
                raise Conflict("duplicate credit code", field="credit_code") from None
            raise
        await audit.record(
            actor=f"user:{user_id}",
            action="application.create",
            target=values["credit_code"],
            detail={"application": app_id},
        )
        token = await tokens.issue("confirm", email, user_id=user_id, payload={"app": app_id})
    await send_confirmation(email, token)
    return user_id, app_id


async def send_confirmation(email: str, token: str) -> None:
    link = f"{base_url()}/confirm/{token}"
    await send_mail(
        email,
        "idnest: 请确认您的邮箱 / confirm your email",
        f"请打开以下链接确认邮箱并提交申请：\nOpen this link to confirm your email and submit "
        f"the application:\n\n{link}\n",
    )


async def confirm_email(token: str) -> int:
    """Confirm the applicant's email; a draft application becomes submitted."""
    async with db.write_transaction():
        row = await tokens.consume("confirm", token)
        app_id = int(row["payload"].get("app", 0))
        app = await get_application(app_id)
        now = datetime.now(UTC)
        changes: dict[Any, Any] = {Application.email_confirmed_at: now, Application.updated_at: now}
        if app["status"] == "draft":
            changes[Application.status] = "submitted"
            changes[Application.submitted_at] = now
        await Application.update(changes).where(Application.id == app_id).run()
        await audit.record(
            actor=f"user:{app['user_id']}",
            action="application.submit",
            target=app["credit_code"],
            detail={"application": app_id, "via": "email confirmation"},
        )
    return app_id


async def get_application(app_id: int) -> dict[str, Any]:
    row = await Application.select().where(Application.id == app_id).first().run()
    if row is None:
        raise NotFound("no such application", field="application")
    if isinstance(row.get("pending_changes"), str):
        row["pending_changes"] = json.loads(row["pending_changes"] or "{}")
    return row


async def application_of_user(user_id: int) -> dict[str, Any] | None:
    row = (
        await Application.select(Application.id)
        .where(Application.user_id == user_id)
        .order_by(Application.id, ascending=False)
        .first()
        .run()
    )
    return await get_application(row["id"]) if row else None


async def application_of_tenant(tenant_id: int) -> dict[str, Any] | None:
    row = (
        await Application.select(Application.id)
        .where(Application.approved_tenant_id == tenant_id)
        .first()
        .run()
    )
    return await get_application(row["id"]) if row else None


async def list_applications(
    *, status: str = "", q: str = "", limit: int = 100
) -> list[dict[str, Any]]:
    where: Any = Application.id > 0
    if status:
        where = where & (Application.status == status)
    if q:
        where = where & (
            Application.company_name.ilike(f"%{q}%") | Application.credit_code.ilike(f"%{q}%")
        )
    return await (
        Application.select(
            Application.id,
            Application.status,
            Application.company_name,
            Application.credit_code,
            Application.submitted_at,
            Application.updated_at,
        )
        .where(where)
        .order_by(Application.id, ascending=False)
        .limit(limit)
        .run()
    )


async def licence(app_id: int) -> dict[str, Any] | None:
    app = await get_application(app_id)
    if not app["licence_id"]:
        return None
    return await Upload.select().where(Upload.id == app["licence_id"]).first().run()


async def automatic_checks(app: dict[str, Any]) -> list[Check]:
    """What a reviewer should see before deciding: codes, duplicates, name, address."""
    from core.codes import CodeError, validate_credit_code, validate_resident_id

    out: list[Check] = []
    try:
        validate_credit_code(app["credit_code"])
        out.append(Check("credit_code", True, app["credit_code"]))
    except CodeError as exc:
        out.append(Check("credit_code", False, exc.message))
    dup = await credit_code_taken(app["credit_code"], except_id=app["id"])
    out.append(Check("duplicate", not dup, ""))
    rid = crypto.decrypt(app["contact_id_enc"]) if app["contact_id_enc"] else None
    try:
        validate_resident_id(rid or "")
        out.append(Check("resident_id", True, app["contact_id_masked"]))
    except CodeError as exc:
        out.append(Check("resident_id", False, exc.message))
    bad = name_problems(app["company_name"], get_settings().forbidden_name_words)
    out.append(Check("name", not bad, ", ".join(bad)))
    addr_ok = len(app["address"]) >= 6 and bool(app["region"])
    ends = [e for e in app["endpoints"].split("\n") if e]
    bad_ends = [e for e in ends if check_endpoint(e)]
    out.append(Check("address", addr_ok and not bad_ends, ", ".join(bad_ends)))
    if app["preferred_code"]:
        taken = await code_taken(app["preferred_code"])
        out.append(Check("preferred_code", not taken, app["preferred_code"]))
    return out


async def resubmit(app_id: int, user_id: int, values: dict[str, str], new_licence: Any) -> None:
    """The applicant's fixed application goes back into the queue."""
    app = await get_application(app_id)
    if app["user_id"] != user_id:
        raise NotFound("no such application", field="application")
    if app["status"] not in ("draft", "rejected"):
        raise InvalidValue(f"the application is {app['status']}", field="status")
    values = {**values, "contact_email": app["contact_email"]}
    now = datetime.now(UTC)
    async with db.write_transaction():
        changes = _fields(values)
        if new_licence is not None:
            changes[Application.licence_id] = await _store_upload(user_id, *new_licence)
        confirmed = app["email_confirmed_at"] is not None
        changes[Application.status] = "submitted" if confirmed else "draft"
        changes[Application.updated_at] = now
        if confirmed:
            changes[Application.submitted_at] = now
        await Application.update(changes).where(Application.id == app_id).run()
        await audit.record(
            actor=f"user:{user_id}",
            action="application.resubmit",
            target=values.get("credit_code", app["credit_code"]),
            detail={"application": app_id},
        )
