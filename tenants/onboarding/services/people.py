"""People in the portal: login, password reset, staff TOTP, tenant members and invites.

Membership is the only link between a user and a tenant; every console page looks the
membership up by (user, tenant prefix), so a URL naming another tenant finds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyotp

from core import audit, crypto, db
from core.auth import Principal, hash_password, verify_password
from core.errors import Conflict, InvalidValue, NotFound
from core.mail import send_mail
from core.tenancy import cross_tenant, tenant_transaction
from tenants.accounts.services.users import STAFF_ROLES, check_password, normalise_email
from tenants.accounts.tables import MEMBER_ROLES, Membership, User
from tenants.onboarding.services import tokens
from tenants.onboarding.tables import UserTotp

WRITE_ROLES = frozenset({"owner", "admin", "developer"})
MANAGE_ROLES = frozenset({"owner", "admin"})
# A hash to verify against when the email is unknown, so timing does not tell.
_DUMMY_HASH = hash_password("not-a-real-password-0")


@dataclass(frozen=True, slots=True)
class Member:
    user_id: int
    email: str
    tenant_id: int
    prefix: str
    tenant_name: str
    tenant_status: str
    role: str

    def principal(self) -> Principal:
        scopes = frozenset({"read", "write"}) if self.role in WRITE_ROLES else frozenset({"read"})
        return Principal(
            actor=f"user:{self.user_id}",
            tenant_id=self.tenant_id,
            tenant_prefix=self.prefix,
            scopes=scopes,
        )

    @property
    def can_write(self) -> bool:
        return self.role in WRITE_ROLES

    @property
    def can_manage(self) -> bool:
        return self.role in MANAGE_ROLES


async def check_login(email: str, password: str) -> tuple[dict[str, Any] | None, str]:
    """The user and "ok"; or None and why not: "wrong" (unknown email or wrong password,
    told apart by nobody), "disabled" (right password, account switched off: saying so
    tells only someone who knows the password). One password check either way."""
    row = await User.select().where(User.email == email.strip().lower()).first().run()
    if row is None:
        verify_password(password, _DUMMY_HASH)
        return None, "wrong"
    if not verify_password(password, row["password_hash"]):
        return None, "wrong"
    if not row["is_active"]:
        return None, "disabled"
    return row, "ok"


async def authenticate(email: str, password: str) -> dict[str, Any] | None:
    return (await check_login(email, password))[0]


async def get_user(user_id: int) -> dict[str, Any] | None:
    return await User.select().where(User.id == user_id).first().run()


def staff_roles(user: dict[str, Any]) -> frozenset[str]:
    if not user.get("is_staff"):
        return frozenset()
    return frozenset(r for r in user["staff_roles"].split(",") if r)


async def memberships(user_id: int) -> list[Member]:
    # Which tenants a signed-in person acts for is known only from these rows.
    async with cross_tenant("auth"):
        rows = await (
            Membership.select(
                Membership.role,
                Membership.user.email.as_alias("email"),
                Membership.tenant_id.id.as_alias("tenant_id"),
                Membership.tenant_id.prefix.as_alias("prefix"),
                Membership.tenant_id.name.as_alias("tname"),
                Membership.tenant_id.status.as_alias("tstatus"),
            )
            .where(Membership.user == user_id)
            .order_by(Membership.id)
            .run()
        )
    return [
        Member(
            user_id, r["email"], r["tenant_id"], r["prefix"], r["tname"], r["tstatus"], r["role"]
        )
        for r in rows
    ]


async def list_members(tenant_id: int) -> list[dict[str, Any]]:
    async with tenant_transaction(tenant_id, write=False):
        return await (
            Membership.select(
                Membership.id,
                Membership.role,
                Membership.user.email.as_alias("email"),
                Membership.user.id.as_alias("user_id"),
            )
            .where(Membership.tenant_id == tenant_id)
            .order_by(Membership.id)
            .run()
        )


async def invite(member: Member, email: str, role: str, base: str) -> None:
    email = normalise_email(email)
    if role not in MEMBER_ROLES:
        raise InvalidValue(f"roles are {', '.join(MEMBER_ROLES)}", field="role")
    if role == "owner" and member.role != "owner":
        raise InvalidValue("only an owner can invite an owner", field="role")
    existing = await User.select(User.id).where(User.email == email).first().run()
    already = False
    if existing is not None:
        async with tenant_transaction(member.tenant_id, write=False):
            already = await Membership.exists().where(
                (Membership.tenant_id == member.tenant_id) & (Membership.user == existing["id"])
            )
    if already:
        raise Conflict(f"{email} is already a member", field="email")
    async with tenant_transaction(member.tenant_id):
        token = await tokens.issue(
            "invite", email, payload={"tenant_id": member.tenant_id, "role": role}
        )
        await audit.record(
            actor=f"user:{member.user_id}",
            action="member.invite",
            target=email,
            tenant_id=member.tenant_id,
            detail={"role": role},
        )
    await send_mail(
        email,
        f"idnest: 邀请加入 {member.tenant_name} / invitation",
        f"{member.email} 邀请您加入 {member.tenant_name}（{member.prefix}），角色 {role}。\n"
        f"{member.email} invites you to {member.tenant_name} ({member.prefix}) as {role}.\n\n"
        f"{base}/invite/{token}\n",
    )


async def accept_invite(token: str, password: str) -> int:
    """Join the inviting tenant; a new user sets a password here. Returns the user id."""
    async with db.write_transaction():
        row = await tokens.consume("invite", token)
        email, payload = row["email"], row["payload"]
        user = await User.select().where(User.email == email).first().run()
        if user is None:
            check_password(password)
            user_id = (
                await User.insert(
                    User(
                        email=email,
                        password_hash=hash_password(password),
                        created_at=datetime.now(UTC),
                    )
                )
                .returning(User.id)
                .run()
            )[0]["id"]
        else:
            user_id = user["id"]
        await _join(payload["tenant_id"], user_id, payload["role"], email)
    return int(user_id)


async def _join(tenant_id: int, user_id: int, role: str, email: str) -> None:
    """Inside accept_invite's transaction, which the token has just named a tenant for."""
    async with tenant_transaction(tenant_id):
        if (
            not await Membership.exists()
            .where((Membership.tenant_id == tenant_id) & (Membership.user == user_id))
            .run()
        ):
            await Membership.insert(
                Membership(
                    tenant_id=tenant_id, user=user_id, role=role, created_at=datetime.now(UTC)
                )
            ).run()
        await audit.record(
            actor=f"user:{user_id}",
            action="member.join",
            target=email,
            tenant_id=tenant_id,
            detail={"role": role},
        )


async def remove_member(member: Member, membership_id: int) -> None:
    async with tenant_transaction(member.tenant_id):
        row = await (
            Membership.select(Membership.id, Membership.role, Membership.user)
            .where((Membership.id == membership_id) & (Membership.tenant_id == member.tenant_id))
            .first()
            .run()
        )
        if row is None:
            raise NotFound("no such member", field="member")
        if row["role"] == "owner":
            owners = (
                await Membership.count()
                .where((Membership.tenant_id == member.tenant_id) & (Membership.role == "owner"))
                .run()
            )
            if member.role != "owner" or owners <= 1:
                raise InvalidValue("the last owner cannot be removed", field="member")
        await Membership.delete().where(Membership.id == membership_id).run()
        await audit.record(
            actor=f"user:{member.user_id}",
            action="member.remove",
            target=str(row["user"]),
            tenant_id=member.tenant_id,
        )


async def change_role(member: Member, membership_id: int, role: str) -> None:
    """Change a member's role. Only an owner grants or takes away ``owner``, and the
    last owner stays an owner."""
    if role not in MEMBER_ROLES:
        raise InvalidValue(f"roles are {', '.join(MEMBER_ROLES)}", field="role")
    async with tenant_transaction(member.tenant_id):
        row = await (
            Membership.select(Membership.id, Membership.role)
            .where((Membership.id == membership_id) & (Membership.tenant_id == member.tenant_id))
            .first()
            .run()
        )
        if row is None:
            raise NotFound("no such member", field="member")
        if "owner" in (role, row["role"]) and member.role != "owner":
            raise InvalidValue("only an owner can grant or remove the owner role", field="role")
        if row["role"] == "owner" and role != "owner":
            owners = (
                await Membership.count()
                .where((Membership.tenant_id == member.tenant_id) & (Membership.role == "owner"))
                .run()
            )
            if owners <= 1:
                raise InvalidValue("the last owner cannot be removed", field="member")
        await Membership.update({Membership.role: role}).where(Membership.id == membership_id).run()
        await audit.record(
            actor=f"user:{member.user_id}",
            action="member.role",
            target=str(membership_id),
            tenant_id=member.tenant_id,
            detail={"from": row["role"], "to": role},
        )


async def request_reset(email: str, base: str) -> None:
    """Mail a reset link if the account exists; say nothing either way."""
    try:
        email = normalise_email(email)
    except InvalidValue:
        return
    user = await User.select(User.id).where(User.email == email).first().run()
    if user is None:
        return
    token = await tokens.issue("reset", email, user_id=user["id"])
    await send_mail(
        email,
        "idnest: 重置密码 / reset your password",
        f"{base}/password/reset/{token}\n\n如非本人操作请忽略。If you did not ask, ignore this.\n",
    )


async def reset_password(token: str, password: str) -> None:
    check_password(password)
    async with db.write_transaction():
        row = await tokens.consume("reset", token)
        await (
            User.update({User.password_hash: hash_password(password)})
            .where(User.id == row["user_id"])
            .run()
        )
        await audit.record(actor=f"user:{row['user_id']}", action="user.password_reset")


# --- staff TOTP ---------------------------------------------------------------


async def totp_state(user_id: int) -> tuple[str, bool]:
    """The user's TOTP secret (created on first call) and whether it is enabled."""
    row = await UserTotp.select().where(UserTotp.user_id == user_id).first().run()
    if row is None:
        secret = pyotp.random_base32()
        await UserTotp.insert(
            UserTotp(
                user_id=user_id,
                secret_enc=crypto.encrypt(secret),
                enabled=0,
                created_at=datetime.now(UTC),
            )
        ).run()
        return secret, False
    return crypto.decrypt(row["secret_enc"]) or "", bool(row["enabled"])


async def totp_enabled(user_id: int) -> bool:
    row = await UserTotp.select(UserTotp.enabled).where(UserTotp.user_id == user_id).first().run()
    return bool(row and row["enabled"])


async def totp_verify(user_id: int, code: str) -> bool:
    secret, _ = await totp_state(user_id)
    return bool(secret) and pyotp.TOTP(secret).verify(code.strip(), valid_window=1)


async def totp_enable(user_id: int, code: str) -> bool:
    if not await totp_verify(user_id, code):
        return False
    await UserTotp.update({UserTotp.enabled: 1}).where(UserTotp.user_id == user_id).run()
    await audit.record(actor=f"staff:{user_id}", action="staff.totp_enable")
    return True


async def totp_reset(user_id: int, *, actor: str) -> None:
    """Forget a staff user's TOTP secret (a lost phone); they enrol again at next login."""
    async with db.write_transaction():
        await UserTotp.delete().where(UserTotp.user_id == user_id).run()
        await audit.record(actor=actor, action="staff.totp_reset", target=str(user_id))


async def list_staff() -> list[dict[str, Any]]:
    return await (
        User.select(User.id, User.email, User.staff_roles, User.is_active)
        .where(User.is_staff == True)  # noqa: E712 - Piccolo builds SQL from ==
        .order_by(User.id)
        .run()
    )


async def set_staff_roles(user_id: int, roles: list[str], *, actor: str) -> None:
    bad = [r for r in roles if r not in STAFF_ROLES]
    if bad or not roles:
        raise InvalidValue(f"staff roles are {', '.join(STAFF_ROLES)}", field="role")
    async with db.write_transaction():
        n = (
            await User.update({User.staff_roles: ",".join(sorted(set(roles)))})
            .where(
                (User.id == user_id) & (User.is_staff == True)  # noqa: E712
            )
            .run()
        )
        await audit.record(
            actor=actor, action="staff.roles", target=str(user_id), detail={"roles": roles, "n": n}
        )


async def authenticate_exists(email: str) -> bool:
    return bool(await User.exists().where(User.email == email.strip().lower()).run())
