"""Two tenants for the every-route isolation test: A (the attacker, with every kind of
credential) and B (the victim, with one of every kind of resource).

B is built the way a real tenant is: signed up on the portal, confirmed by mail,
approved, then filled through its own credentials. Every string that only B's private
data contains is a *marker*; a response to A (or to nobody) that contains one leaked it.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

JSON = {"Content-Type": "application/json"}
PASSWORD = "correct horse battery"
CSRF_FIELD = re.compile(r'name="_csrf_token" value="([^"]+)"')
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
A_SECKEY = "a-wire-secret-correct-horse"


def tag(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:12]}"


@dataclass
class World:
    """Everything a case needs: A's credentials, B's resources and B's markers."""

    a_id: int
    a_prefix: str
    a_key: str
    a_snms: str
    a_email: str
    b_id: int
    b_prefix: str
    b_key: str = ""
    a_oauth: str = ""  # an access token of A's OAuth2 machine client (read, write)
    b: dict[str, str] = field(default_factory=dict)  # B's resources, by name
    # Only B's private pages and B's own credentials may ever show these.
    secrets: set[str] = field(default_factory=set)
    # B's public values: a route declared public may show them, no other route.
    public: set[str] = field(default_factory=set)
    # What B granted A (one pattern, tenants/grants): only A's credentials on a door
    # that reads records may show these; nobody else, nowhere else.
    granted: set[str] = field(default_factory=set)

    def headers(self, kind: str) -> dict[str, str]:
        if kind == "key":
            return {"Authorization": f"Bearer {self.a_key}"}
        if kind == "basic":
            user = f"300:{self.a_prefix}/admin:{A_SECKEY}"
            return {"Authorization": "Basic " + base64.b64encode(user.encode()).decode()}
        if kind == "forged":  # A's key as the password of B's admin handle
            user = f"300:{self.b_prefix}/admin:{self.a_key}"
            return {"Authorization": "Basic " + base64.b64encode(user.encode()).decode()}
        if kind == "snms":
            return {"Authorization": f"Bearer {self.a_snms}"}
        if kind == "oauth":
            return {"Authorization": f"Bearer {self.a_oauth}"}
        return {}


async def csrf_token(c: httpx.AsyncClient, page: str = "/login") -> str:
    r = await c.get(page)
    m = CSRF_FIELD.search(r.text)
    assert m, f"no CSRF token on {page}: {r.status_code}"
    return m.group(1)


async def login(c: httpx.AsyncClient, email: str) -> str:
    """Log ``c`` in; returns a CSRF token valid for its later requests."""
    from portal.web import throttle

    throttle.reset_limiter()
    c.cookies.clear()
    token = await csrf_token(c)
    r = await c.post("/login", data={"email": email, "password": PASSWORD, "_csrf_token": token})
    assert r.status_code == 303 and r.headers["location"].startswith("/console"), r.text
    return await csrf_token(c, r.headers["location"])


async def snms_token(c: httpx.AsyncClient, prefix: str) -> tuple[str, str]:
    from tenants.identifiers.services.snms import create_account

    username = tag("snms")
    await create_account(prefix, username, "correct-horse-1", role="admin", actor="test")
    r = await c.post("/identity/token", json={"username": username, "password": "correct-horse-1"})
    assert r.json()["status"] == 1, r.text
    return username, r.json()["data"]["token"]


def _confirm_link(address: str) -> str:
    from core.mail import mail_dir

    for path in sorted(Path(mail_dir()).glob("*.eml"), reverse=True):
        text = path.read_text(errors="replace")
        if address in text:
            m = re.search(r"https?://\S*(/confirm/\S+)", text)
            if m:
                return m.group(1)
    raise AssertionError(f"no confirmation mail to {address}")


async def signed_up_tenant(c: httpx.AsyncClient, contact: str, name: str) -> dict[str, Any]:
    """A tenant made as a company makes one: signup, mail confirmation, staff approval."""
    from core.codes import CREDIT_CODE_ALPHABET, credit_code_check_character
    from tenants.accounts.services.tenants import find_by_prefix
    from tenants.onboarding.services.review import approve
    from tenants.onboarding.tables import Application

    body = "91110000" + "".join(CREDIT_CODE_ALPHABET[b % 31] for b in uuid.uuid4().bytes[:9])
    credit = body + credit_code_check_character(body)
    form = {
        "company_name": name,
        "short_name": name[:8],
        "credit_code": credit,
        "industries": ["13"],
        "region": "北京市海淀区",
        "address": tag("addr"),
        "contact_name": tag("contact"),
        "contact_mobile": "13800138000",
        "contact_email": contact,
        "contact_id": "11010519491231002X",
        "preferred_code": "",
        "endpoints": "8.8.8.8",
        "password": PASSWORD,
        "password2": PASSWORD,
        "_csrf_token": await csrf_token(c, "/signup"),
    }
    files = {"licence": ("licence.pdf", PDF, "application/pdf")}
    r = await c.post("/signup", data=form, files=files)
    assert r.status_code == 303, r.text
    assert (await c.get(_confirm_link(contact))).status_code == 200
    app = await Application.select(Application.id).where(Application.credit_code == credit).run()
    app_id = app[0]["id"]
    prefix = await approve(app_id, actor="staff:isolation-test")
    tenant = await find_by_prefix(prefix)
    assert tenant is not None
    c.cookies.clear()
    return {"id": tenant.id, "prefix": prefix, "app_id": app_id, "form": form}


async def _put(c: httpx.AsyncClient, key: str, handle: str, values: list[dict]) -> None:
    r = await c.put(
        f"/api/handles/{handle}",
        json={"values": values},
        headers={"Authorization": f"Bearer {key}", **JSON},
    )
    assert r.status_code in (200, 201), r.text


def _v(index: int, vtype: str, data: str, permissions: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"index": index, "type": vtype, "data": data}
    if permissions:
        out["permissions"] = permissions
    return out


async def _grant(tenant_id: int, scheme: str, value: str | None) -> str:
    from tenants.schemes.services.namespaces import request_namespace, review_namespace

    info = await request_namespace(tenant_id, scheme, value, actor="test")
    if info.status != "verified":
        info = await review_namespace(scheme, info.value, verified=True, actor="staff:test")
    return info.value


def _gtin(gcp: str) -> str:
    from core.schemes.gs1 import gs1_check_digit

    body = "0" + gcp + "1".zfill(12 - len(gcp))
    return body + str(gs1_check_digit(body))


async def _b_codes(c: httpx.AsyncClient, w: World, key: str) -> None:
    """B's GS1, OID, Ecode and VAA codes, each with a restricted value on its handle."""
    n = uuid.uuid4().int
    spaces = {
        "gs1": f"69{n % 10**7:07d}",
        "oid": None,
        "ecode": f"2{n % 10**6:06d}X",
        "vaa": f"VAA{n % 10**6:06d}Q",
    }
    auth = {"Authorization": f"Bearer {key}", **JSON}
    for scheme, value in spaces.items():
        ns = await _grant(w.b_id, scheme, value)
        code = "/01/" + _gtin(ns) if scheme == "gs1" else f"{ns}.9" if scheme == "oid" else ns + "9"
        url = f"https://b.example/{tag('pub' + scheme)}"
        r = await c.post(f"/api/v1/schemes/{scheme}/codes", json={"code": code, "url": url},
                         headers=auth)  # fmt: skip
        assert r.status_code == 201, r.text
        secret = tag(f"secret{scheme}")
        r = await c.put(f"/api/handles/{r.json()['handle']}?index=5", headers=auth,
                        json=[_v(5, "NOTE", secret, "1100")])  # fmt: skip
        assert r.status_code == 200, r.text
        w.b[f"{scheme}_ns"], w.b[f"{scheme}_code"] = ns, code.lstrip("/")
        w.b[f"{scheme}_path"] = code.lstrip("/") if scheme == "gs1" else f"{scheme}/{code}"
        w.public.add(url)
        w.secrets.add(secret)
    href = f"https://b.example/{tag('link')}"
    link = {"key": f"/{w.b['gs1_code']}", "link_type": "gs1:certificationInfo", "href": href}
    r = await c.post("/api/v1/gs1/links", json=link, headers=auth)
    assert r.status_code == 201, r.text
    w.b["link_id"] = str(r.json()["id"])
    w.public.add(href)
    item = tag("item")  # GS1 linksets show it as the itemDescription
    r = await c.put(f"/api/v1/gs1/items/{w.b['gs1_code']}", json={"description": item},
                    headers=auth)  # fmt: skip
    assert r.status_code == 201, r.text
    w.public.add(item)
    private = tag("PRIV")
    r = await c.post("/api/v1/mappings", headers=auth,
                     json={"private_code": private, "public": w.b["handle"]})  # fmt: skip
    assert r.status_code in (200, 201), r.text
    w.b["private_code"] = private
    w.secrets.add(private)


async def _b_registry(c: httpx.AsyncClient, w: World, key: str) -> None:
    """B's SNMS account, tenant template and one finished bulk job."""
    from tenants.identifiers import jobs

    username, token = await snms_token(c, w.b_prefix)
    code = "b" + uuid.uuid4().hex[:8]
    name = tag("TPL")
    tpl = {"code": code, "name": name, "extends": "core@1", "items": [
        {"name": name + "-item", "idType": "head", "idIndex": 2100, "required": False,
         "state": 1, "metadata": {"type": "string"}}]}  # fmt: skip
    r = await c.post(
        "/snms/api/v5/template", json=tpl, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.json()["status"] == 1, r.text
    bulk_value = tag("bulk")
    rows = [{"handle": f"{w.b_prefix}/{tag('BULK')}", "values": [_v(1, "URL", bulk_value)]},
            {"handle": f"{w.b_prefix}/{tag('BULKBAD')}", "values": [{"index": 1}]}]  # fmt: skip
    body = "\n".join(__import__("json").dumps(x) for x in rows) + "\n"
    r = await c.post("/api/bulk/jobs?format=ndjson&mode=create", content=body.encode(),
                     headers={"Authorization": f"Bearer {key}",
                              "Content-Type": "application/x-ndjson"})  # fmt: skip
    assert r.status_code == 202, r.text
    await jobs.wait_local()
    w.b.update(template=code, job_id=r.json()["jobId"], snms_user=username)
    w.b.update(bulk_handle=rows[0]["handle"], template_name=name)
    w.secrets.update({username, name, token, rows[0]["handle"], rows[1]["handle"], bulk_value})
    w.secrets.add(w.b["job_id"])  # shown where a request names it, never elsewhere
    r = await c.post("/api/exports", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 202, r.text
    from tenants.ownership import jobs as export_jobs

    await export_jobs.wait_local()
    r = await c.get(f"/api/exports/{r.json()['id']}", headers={"Authorization": f"Bearer {key}"})
    link = r.json()["download"]
    w.b.update(export_id=r.json()["id"], export_token=link.split("token=", 1)[1])
    w.secrets.update({w.b["export_id"], w.b["export_token"]})


async def _b_team(c: httpx.AsyncClient, w: World, owner_email: str) -> None:
    """A second member of B, invited and joined through B's console; one invite pending."""
    from tenants.accounts.services.apikeys import create_key
    from tenants.onboarding.services.people import list_members

    csrf = await login(c, owner_email)
    joined, pending = tag("member") + "@example.com", tag("pending") + "@example.com"
    for addr in (joined, pending):
        form = {"email": addr, "role": "developer", "_csrf_token": csrf}
        r = await c.post(f"/console/{w.b_prefix}/members", data=form)
        assert r.status_code == 303, r.text
    from core.mail import mail_dir

    text = next(p.read_text() for p in sorted(Path(mail_dir()).glob("*.eml"), reverse=True)
                if joined in p.read_text())  # fmt: skip
    invite = re.search(r"/invite/(\S+)", text)
    assert invite
    c.cookies.clear()
    r = await c.post(
        f"/invite/{invite.group(1)}",
        data={
            "password": PASSWORD,
            "_csrf_token": await csrf_token(c, f"/invite/{invite.group(1)}"),
        },
    )
    assert r.status_code == 303, r.text
    member = next(m for m in await list_members(w.b_id) if m["email"] == joined)
    w.b.update(membership_id=str(member["id"]), user_id=str(member["user_id"]))
    key_name = tag("KEYNAME")
    _, info = await create_key(w.b_prefix, scopes="read", name=key_name, actor="test")
    w.b.update(key_id=info.key_id, b_owner=owner_email)
    w.secrets.update({joined, pending, owner_email, key_name, info.key_id})
    c.cookies.clear()


async def build_world(c: httpx.AsyncClient) -> World:
    from tenants.accounts.services.apikeys import create_key

    a_email, b_email = tag("a-owner") + "@example.com", tag("b-owner") + "@example.com"
    a = await signed_up_tenant(c, a_email, "Alpha Pumps " + tag("co"))
    b = await signed_up_tenant(c, b_email, "Beta Valves " + tag("co"))
    a_key, _ = await create_key(a["prefix"], scopes="read,write", actor="test")
    b_key, _ = await create_key(b["prefix"], scopes="read,write", actor="test")
    await _put(c, a_key, f"{a['prefix']}/admin", [_v(300, "HS_SECKEY", A_SECKEY)])
    _, a_snms = await snms_token(c, a["prefix"])
    w = World(a["id"], a["prefix"], a_key, a_snms, a_email, b["id"], b["prefix"], b_key)
    pub, hid = f"{b['prefix']}/{tag('PUB')}", f"{b['prefix']}/{tag('HID')}"
    w.b.update(handle=pub, suffix=pub.split("/", 1)[1], app_id=str(b["app_id"]))
    w.b.update(hidden=hid)
    marks = {k: tag(k) for k in ("url", "desc", "secret", "hidurl", "seckey")}
    w.b.update({f"mark_{k}": v for k, v in marks.items()})
    await _put(c, b_key, pub, [
        _v(1, "URL", f"https://b.example/{marks['url']}"), _v(3, "DESC", marks["desc"]),
        _v(4, "EMAIL", marks["secret"] + "@b.example", "1100")])  # fmt: skip
    await _put(c, b_key, hid, [_v(1, "URL", f"https://b.example/{marks['hidurl']}")])
    await _put(c, b_key, f"{b['prefix']}/admin", [_v(300, "HS_SECKEY", marks["seckey"])])
    w.public.update({marks["url"], marks["desc"]})
    w.secrets.update({marks["secret"], marks["hidurl"], marks["seckey"], hid, b_key})
    w.secrets.update({b["form"]["contact_name"], b["form"]["address"], b["form"]["credit_code"]})
    await _b_codes(c, w, b_key)
    await _b_registry(c, w, b_key)
    await _b_team(c, w, b_email)
    await _b_billing(w)
    await _oauth_clients(c, w)
    await _b_grant(c, w, b_key)
    return w


async def _oauth_clients(c: httpx.AsyncClient, w: World) -> None:
    """A's machine client and its token from the token endpoint; B's client, for A to
    try to revoke."""
    from tenants.clients.services.clients import create_client

    secret, mine = await create_client(w.a_prefix, name="a-erp", scopes="read,write", actor="test")
    r = await c.post("/oauth/token", data={"grant_type": "client_credentials"},
                     auth=(mine.client_id, secret))  # fmt: skip
    assert r.status_code == 200, r.text
    w.a_oauth = r.json()["access_token"]
    name = tag("CLIENTNAME")
    b_secret, theirs = await create_client(w.b_prefix, name=name, scopes="read", actor="test")
    w.b["client_id"] = theirs.client_id
    w.secrets.update({theirs.client_id, b_secret, name})


async def _b_grant(c: httpx.AsyncClient, w: World, key: str) -> None:
    """B grants A one pattern: ``GRANT-<tag>*``. Its restricted value is A's to see; the
    same handle's key material, and every other restricted value of B, stay secret."""
    suffix, mark, seckey = tag("GRANT"), tag("granted"), tag("grant-seckey")
    handle = f"{w.b_prefix}/{suffix}"
    await _put(c, key, handle, [_v(1, "URL", f"https://b.example/{suffix}"),
                                _v(2, "EMAIL", mark + "@b.example", "1100"),
                                _v(300, "HS_SECKEY", seckey)])  # fmt: skip
    r = await c.post("/api/grants", json={"to": w.a_prefix, "pattern": f"{suffix}*"},
                     headers={"Authorization": f"Bearer {key}", **JSON})  # fmt: skip
    assert r.status_code == 201, r.text
    w.b.update(granted_handle=handle, grant_id=r.json()["id"], mark_granted=mark)
    w.granted.add(mark)
    w.secrets.add(seckey)


async def _b_billing(w: World) -> None:
    """B on a plan since last month, with last month's invoice issued."""
    from billing.invoices.service import issue_month, previous_month
    from billing.plans.service import assign_plan, create_plan
    from core import usage

    code = "iso-" + uuid.uuid4().hex[:10]
    await create_plan(code, "Isolation plan", monthly_fee_fen=100, included_registrations=0,
                      included_resolutions=0, registration_price_fen=1,
                      resolution_price_per_1000_fen=1, actor="test")  # fmt: skip
    month = previous_month(usage.now())
    await assign_plan(w.b_prefix, code, effective_from=usage.month_days(month)[0], actor="test")
    number = await issue_month(w.b_id, month, actor="test")
    assert number, "B's invoice was issued"
    w.b["invoice"] = number
    w.secrets.add(number)
