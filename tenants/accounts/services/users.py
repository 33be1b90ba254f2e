"""People: staff users of the node and members of tenants."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from core import audit, db
from core.auth import hash_password
from core.errors import Conflict, InvalidValue
from core.tenancy import tenant_transaction
from tenants.accounts.tables import Membership, User

STAFF_ROLES = ("admin", "reviewer", "operator", "finance")
MEMBER_ROLES = ("owner", "developer", "viewer")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 10


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: int
    email: str
    is_staff: bool
    staff_roles: tuple[str, ...]


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.match(email) or len(email) > 320:
        raise InvalidValue(f"{email!r} is not an email address", field="email")
    return email


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidValue(
            f"the password must have at least {MIN_PASSWORD} characters", field="password"
        )


async def create_staff(email: str, password: str, *, roles: list[str]) -> UserInfo:
    email = normalise_email(email)
    check_password(password)
    bad = [r for r in roles if r not in STAFF_ROLES]
    if bad or not roles:
        raise InvalidValue(f"staff roles are {', '.join(STAFF_ROLES)}", field="role")
    async with db.write_transaction():
        if await User.exists().where(User.email == email).run():
            raise Conflict(f"a user with email {email} already exists", field="email")
        row = (
            await User.insert(
                User(
                    email=email,
                    password_hash=hash_password(password),
                    is_staff=True,
                    staff_roles=",".join(sorted(set(roles))),
                    created_at=datetime.now(UTC),
                )
            )
            .returning(User.id)
            .run()
        )[0]
        await audit.record(
            actor="cli", action="staff.create", target=email, detail={"roles": sorted(set(roles))}
        )
    return UserInfo(row["id"], email, True, tuple(sorted(set(roles))))


async def create_member(
    tenant_id: int, email: str, password: str, *, role: str, actor: str
) -> UserInfo:
    """A new console user who is a member of one tenant (``idnest demo``'s login)."""
    email = normalise_email(email)
    check_password(password)
    if role not in MEMBER_ROLES:
        raise InvalidValue(f"member roles are {', '.join(MEMBER_ROLES)}", field="role")
    now = datetime.now(UTC)
    async with db.write_transaction():
        if await User.exists().where(User.email == email).run():
            raise Conflict(f"a user with email {email} already exists", field="email")
        row = (
            await User.insert(
                User(email=email, password_hash=hash_password(password), created_at=now)
            )
            .returning(User.id)
            .run()
        )[0]
        async with tenant_transaction(tenant_id):
            await Membership.insert(
                Membership(tenant_id=tenant_id, user=row["id"], role=role, created_at=now)
            ).run()
        await audit.record(
            actor=actor,
            action="member.create",
            target=email,
            tenant_id=tenant_id,
            detail={"role": role},
        )
    return UserInfo(row["id"], email, False, ())
