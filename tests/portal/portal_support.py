"""Portal test helpers: an HTTPS client wrapper with CSRF-aware form posts, people, mail.

The client talks https://testserver so Secure cookies (session, CSRF) are sent back,
as a browser would over TLS.
"""

from __future__ import annotations

import email
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pyotp
from node_support import as_node

CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')
GOOD_CODES = ("91110000802100433B", "9144030071526726XG")
GOOD_ID = "11010519491231002X"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PASSWORD = "correct horse battery"


class Web:
    """An httpx client plus the few things every portal test does."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.c = client

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.c.get(path, **kw)

    async def token(self, path: str = "/login") -> str:
        r = await self.c.get(path)
        m = CSRF.search(r.text)
        assert m, f"no CSRF token on {path}: {r.status_code}"
        return m.group(1)

    async def post(
        self,
        path: str,
        data: dict[str, Any] | None = None,
        *,
        form_page: str = "/login",
        files: dict[str, Any] | None = None,
    ) -> httpx.Response:
        payload = dict(data or {})
        payload["_csrf_token"] = await self.token(form_page)
        return await self.c.post(path, data=payload, files=files)

    async def login(self, email_addr: str, password: str = PASSWORD) -> httpx.Response:
        return await self.post("/login", {"email": email_addr, "password": password})


def unique_email(tag: str = "u") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


def signup_form(**over: str) -> dict[str, Any]:
    form: dict[str, Any] = {
        "company_name": "北京测试科技有限公司",
        "short_name": "测试科技",
        "credit_code": GOOD_CODES[0],
        "industries": ["13", "34"],
        "region": "北京市海淀区",
        "address": "中关村大街 1 号",
        "contact_name": "张三",
        "contact_mobile": "13800138000",
        "contact_email": unique_email("apply"),
        "contact_id": GOOD_ID,
        "preferred_code": "",
        "endpoints": "8.8.8.8\nexample.com",
        "password": PASSWORD,
        "password2": PASSWORD,
    }
    form.update(over)
    return form


def licence(data: bytes = PDF, name: str = "licence.pdf") -> dict[str, Any]:
    return {"licence": (name, data, "application/pdf")}


def mails_to(address: str) -> list[email.message.Message]:
    from core.mail import mail_dir

    out = []
    for path in sorted(Path(mail_dir()).glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes())
        if msg["To"] == address:
            out.append(msg)
    return out


def last_link(address: str, marker: str) -> str:
    msgs = mails_to(address)
    assert msgs, f"no mail to {address}"
    body = msgs[-1].get_payload(decode=True).decode()
    m = re.search(r"https?://\S*" + re.escape(marker) + r"\S*", body)
    assert m, body
    return "/" + m.group(0).split("/", 3)[3]


async def clean_credit_code() -> str:
    """A valid credit code no application uses yet (the DB is shared by a test run)."""
    from core.codes import CREDIT_CODE_ALPHABET, credit_code_check_character
    from tenants.onboarding.services.applications import credit_code_taken

    while True:
        body = "91110000" + "".join(CREDIT_CODE_ALPHABET[b % 31] for b in uuid.uuid4().bytes[:9])
        code = body + credit_code_check_character(body)
        if not await credit_code_taken(code):
            return code


async def make_staff(*roles: str) -> tuple[str, str]:
    """A staff user with TOTP enabled; returns (email, TOTP secret)."""
    from tenants.accounts.services.users import create_staff
    from tenants.onboarding.services import people

    addr = unique_email("staff")
    user = await create_staff(addr, PASSWORD, roles=list(roles) or ["admin"])
    secret, _ = await people.totp_state(user.id)
    assert await people.totp_enable(user.id, pyotp.TOTP(secret).now())
    return addr, secret


async def staff_login(web: Web, *roles: str) -> str:
    addr, secret = await make_staff(*roles)
    r = await web.login(addr)
    assert r.status_code == 303 and r.headers["location"] == "/login/totp", r.text
    r = await web.post("/login/totp", {"code": pyotp.TOTP(secret).now()}, form_page="/login/totp")
    assert r.status_code == 303 and r.headers["location"] == "/staff"
    return addr


async def add_member(tenant_id: int, role: str) -> str:
    from core.auth import hash_password
    from tenants.accounts.tables import Membership, User

    addr = unique_email(role)
    uid = (
        await User.insert(
            User(email=addr, password_hash=hash_password(PASSWORD), created_at=datetime.now(UTC))
        )
        .returning(User.id)
        .run()
    )[0]["id"]
    async with as_node():
        await Membership.insert(
            Membership(tenant_id=tenant_id, user=uid, role=role, created_at=datetime.now(UTC))
        ).run()
    return addr


def form_fields(html: str, form_id: str) -> dict[str, str]:
    """What a browser would submit from the form ``form_id`` as the page shows it: text
    and hidden inputs, ticked checkboxes, each select's chosen (else first) option."""
    from html.parser import HTMLParser

    class _Form(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.inside = False
            self.fields: dict[str, str] = {}
            self.select: str | None = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            a = {k: v or "" for k, v in attrs}
            if tag == "form":
                self.inside = a.get("id") == form_id
            if not self.inside:
                return
            if tag == "input" and a.get("name") and a.get("type") not in ("submit", "button"):
                if a.get("type") != "checkbox" or "checked" in a:
                    self.fields[a["name"]] = a.get("value", "")
            elif tag == "select":
                self.select = a.get("name")
            elif (
                tag == "option"
                and self.select
                and (self.select not in self.fields or "selected" in a)
            ):
                self.fields[self.select] = a.get("value", "")

        def handle_endtag(self, tag: str) -> None:
            if tag == "select":
                self.select = None
            elif tag == "form":
                self.inside = False

    parser = _Form()
    parser.feed(html)
    assert parser.fields, f"no form {form_id!r} on the page"
    return parser.fields
