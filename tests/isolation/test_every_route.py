"""Tenant isolation on every route of the app, and on the Handle wire protocol.

The routes come from the router; each must have a declared case (isolation_cases).
For each case, tenant A's credentials of every kind (API key, Handle Basic with A's
HS_SECKEY, Basic naming B's admin with A's key, console session with CSRF token, SNMS
token) and the anonymous caller are
sent against tenant B's resources. Nothing may answer 5xx or show B's private data, a
``target`` must be refused, and after each case every row B owns is as it was.
One app and one pair of tenants serve the whole module.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from isolation_cases import DEFAULT_FILL, Body, Case, wire_message
from isolation_snapshot import diff, plan, snapshot
from isolation_table_api import API
from isolation_table_portal import PORTAL
from isolation_world import World, build_world, csrf_token, login

pytestmark = pytest.mark.anyio
CASES = [*API, *PORTAL]
KINDS = ("anon", "key", "basic", "forged", "session", "snms", "oauth")
# The doors that read records, where a grant B gave A lets A's credentials see more.
GRANT_DOORS = ("/api/handles/", "/{handle:path}", "/api/search", "/identityv2/data/detail", "/oid/")
PLACEHOLDER = re.compile(r"\{(\w+)\}")
ROUTE_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


@dataclass
class Stage:
    app: Any
    anon: httpx.AsyncClient
    session: httpx.AsyncClient
    world: World
    csrf: str
    # Nobody logged in, as a browser is: a CSRF cookie and its token, no session.
    anon_cookies: httpx.Cookies
    anon_csrf: str
    where: dict[str, str]
    baseline: dict[str, list[str]]

    def vars(self) -> dict[str, str]:
        w = self.world
        return {**w.b, "a_prefix": w.a_prefix, "b_prefix": w.b_prefix}


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def stage() -> AsyncIterator[Stage]:
    from asgi_lifespan import LifespanManager

    from core.bus import set_bus
    from portal.app import create_app

    set_bus(None)
    app = create_app()
    async with LifespanManager(app, startup_timeout=30):
        transport = httpx.ASGITransport(app=app)
        base = "https://testserver"
        async with (
            httpx.AsyncClient(transport=transport, base_url=base) as anon,
            httpx.AsyncClient(transport=transport, base_url=base) as session,
        ):
            world = await build_world(anon)
            csrf = await login(session, world.a_email)
            anon.cookies.clear()
            anon_csrf = await csrf_token(anon)
            jar = httpx.Cookies(anon.cookies)
            where = plan(world.b_id)
            baseline = await snapshot(where)
            yield Stage(app, anon, session, world, csrf, jar, anon_csrf, where, baseline)
    set_bus(None)


def app_routes(app: Any) -> set[tuple[str, str]]:
    """Every method and path the router serves, but Litestar's generated OPTIONS
    answers (no handler of ours; the runner sends OPTIONS to every case's path)."""
    while not hasattr(app, "routes"):  # the fast path and HEAD wrappers around Litestar
        app = app.app
    out = set()
    for route in app.routes:
        for method, handler in getattr(route, "route_handler_map", {}).items():
            fn = (handler[0] if isinstance(handler, tuple) else handler).fn
            if method == "OPTIONS" and fn.__module__.startswith("litestar.routes"):
                continue
            out.add((method, route.path))
    return out


async def test_every_route_has_a_case(stage: Stage) -> None:
    routes = app_routes(stage.app)
    declared = {(c.method, c.path) for c in CASES}
    missing = sorted(routes - declared)
    assert not missing, (
        f"routes with no isolation case (add one to isolation_table_api.py or "
        f"isolation_table_portal.py): {missing}"
    )
    stale = sorted(declared - routes)
    assert not stale, f"isolation cases for routes the app no longer has: {stale}"
    for c in CASES:
        assert c.kind in ("target", "scoped", "staff", "public"), c
        assert c.kind != "public" or c.reason, f"{c.method} {c.path}: public needs a reason"
        assert not c.also_refused or c.why, f"{c.method} {c.path}: say why those refuse"
        assert set(c.kinds) <= set(KINDS) and (not c.kinds or c.kind == "public"), c


def fmt(value: Any, v: dict[str, str]) -> Any:
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: v.get(m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [fmt(x, v) for x in value]
    if isinstance(value, dict):
        return {k: fmt(x, v) for k, x in value.items()}
    return value


def urls(case: Case, v: dict[str, str]) -> list[str]:
    def path(prefix: str) -> str:
        def one(m: re.Match[str]) -> str:
            src = case.fill.get(m.group(1), DEFAULT_FILL.get(m.group(1), m.group(1)))
            if m.group(1) == "prefix" and "prefix" not in case.fill:
                return prefix
            return src[1:] if src.startswith("=") else v[src]

        return ROUTE_PARAM.sub(one, case.path)

    prefixes = [v["b_prefix"]] + ([v["a_prefix"]] if case.cross else [])
    return [path(p) + fmt(q, v) for p in prefixes for q in case.queries]


def request_kwargs(body: Body | None, kind: str, s: Stage) -> dict[str, Any]:
    v = s.vars()
    headers = s.world.headers(kind)
    token = {"session": s.csrf, "anon": s.anon_csrf}.get(kind)
    if token:
        headers["x-csrftoken"] = token
    kw: dict[str, Any] = {"headers": headers}
    if body is None:
        return kw
    headers.update(body.headers)
    if body.json is not None:
        kw["json"] = fmt(body.json, v)
    if body.form is not None or body.files:
        form = {**fmt(body.form or {}, v), **({"_csrf_token": token} if token else {})}
        kw["data"] = {"mode": "upsert", **form} if body.files else form
    if body.files:
        csv = f"handle,index,type,data\n{v['handle']},1,URL,https://evil.example/\n"
        kw["files"] = {"file": ("evil.csv", csv.encode(), "text/csv")}
    if body.content is not None:
        kw["content"] = fmt(body.content.decode(), v).encode()
    if body.wire is not None:
        kw["content"] = wire_message(body.wire, v["handle"])
    return kw


async def send(s: Stage, kind: str, method: str, url: str, kw: dict[str, Any]) -> httpx.Response:
    client = s.session if kind == "session" else s.anon
    if kind == "anon":
        client.cookies = httpx.Cookies(s.anon_cookies)
    elif kind != "session":
        client.cookies.clear()
    return await client.request(method, url, **kw)


def refused(case: Case, r: httpx.Response) -> bool:
    path, ctype = case.path, r.headers.get("content-type", "")
    if r.status_code in case.also_refused:
        return True
    ctype = r.headers.get("content-type", "")
    if path.startswith(("/identity", "/snms/")):
        if r.status_code != 200 or not ctype.startswith("application/json"):
            return False
        body = r.json()
        items = body["data"] if isinstance(body.get("data"), list) else []
        if body["status"] == 1 and not items:
            return False
        return body["status"] in (-1, -2, -3) and all(i.get("status") != 1 for i in items)
    if path.startswith(("/api/", "/hrls/")):
        return r.status_code in (401, 403, 404) and ctype.startswith("application/problem+json")
    login_redirect = r.status_code in (302, 303) and r.headers["location"].startswith("/login")
    return r.status_code in (403, 404) or login_redirect


def problems(case: Case, kind: str, url: str, kw: dict[str, Any], r: httpx.Response,
             w: World) -> list[str]:  # fmt: skip
    sent = url + repr(kw.get("json")) + repr(kw.get("data")) + repr(kw.get("content"))
    seen = r.text + repr(sorted(r.headers.items()))
    out = []
    if r.status_code >= 500:
        out.append(f"answered {r.status_code}")
    out += [f"shows B's private {m!r}" for m in w.secrets if m in seen and m not in sent]
    if case.kind != "public":
        out += [f"shows B's public {m!r} on a non-public route" for m in w.public
                if m in seen and m not in sent]  # fmt: skip
    if kind == "anon" or not case.path.startswith(GRANT_DOORS):
        out += [f"shows what B granted A only {m!r}" for m in w.granted if m in seen]
    # A scoped route answers about its caller: nobody has nothing there.
    must_refuse = case.kind in ("target", "staff") or (case.kind == "scoped" and kind == "anon")
    if must_refuse and case.method != "OPTIONS" and not refused(case, r):
        out.append(f"not refused: {r.status_code} {r.text[:200]!r}")
    return [f"{kind} {case.method} {url}: {p}" for p in out]


def trace(kind: str, case: Case, url: str, r: httpx.Response) -> None:
    """ISOLATION_TRACE=file appends every request's answer there, for a reviewer."""
    path = os.environ.get("ISOLATION_TRACE")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            head = r.text[:160].replace("\n", " ")
            f.write(f"{case.kind}\t{kind}\t{case.method} {url}\t{r.status_code}\t{head}\n")


def case_id(case: Case) -> str:
    return f"{case.method} {case.path} [{case.kind}]"


@pytest.mark.parametrize("case", CASES, ids=case_id)
async def test_route_isolation(stage: Stage, case: Case) -> None:
    from tenants.identifiers import jobs

    s, found = stage, []
    for url in urls(case, s.vars()):
        for body in case.bodies:
            for kind in case.kinds or KINDS:
                kw = request_kwargs(body, kind, s)
                r = await send(s, kind, case.method, url, kw)
                found += problems(case, kind, url, kw, r, s.world)
                trace(kind, case, url, r)
                if case.ends_session and kind == "session":
                    s.csrf = await login(s.session, s.world.a_email)
                if case.method == "GET" and kind in ("anon", "key"):
                    # HEAD is answered as GET without the body: the same refusal.
                    head = await send(s, kind, "HEAD", url, kw)
                    if head.status_code != r.status_code or head.content:
                        found.append(f"{kind} HEAD {url}: {head.status_code}, GET {r.status_code}")
        r = await send(s, "key", "OPTIONS", url, {"headers": s.world.headers("key")})
        found += problems(Case("OPTIONS", case.path, "scoped"), "key", url, {}, r, s.world)
    await jobs.wait_local()
    after = await snapshot(s.where)
    changed = [c for c in diff(s.baseline, after) if c.split(":")[0] not in case.may_change]
    s.baseline = after
    assert not found and not changed, "\n".join(found + [f"B's rows changed: {c}" for c in changed])


async def test_the_session_is_still_a_logged_in_member(stage: Stage) -> None:
    """The runner's console session must really be A's owner, or the page cases prove
    nothing: A's own console answers, B's does not."""
    w = stage.world
    assert (await stage.session.get(f"/console/{w.a_prefix}")).status_code == 200
    assert (await stage.session.get(f"/console/{w.b_prefix}")).status_code == 404
    r = await stage.session.get(f"/api/handles/{w.b['handle']}?publicOnly=false")
    assert r.status_code == 200


async def test_the_markers_are_what_b_itself_sees(stage: Stage) -> None:
    """The checks above can fail: B's own key sees the markers A must never see, and the
    snapshot holds B's rows in every table B has data in."""
    w, auth = stage.world, {"Authorization": f"Bearer {stage.world.b_key}"}
    seen = ""
    for url in (f"/api/handles/{w.b['handle']}?publicOnly=false", f"/api/handles/{w.b['hidden']}",
                "/api/v1/mappings", f"/api/bulk/jobs/{w.b['job_id']}/results",
                f"/api/v1/gs1/links/{w.b['link_id']}", "/snms/api/v5/template"):  # fmt: skip
        r = await stage.anon.get(url, headers=auth)
        assert r.status_code == 200, (url, r.text)
        seen += r.text
    for mark in ("mark_secret", "mark_hidurl", "private_code", "bulk_handle", "template_name"):
        assert w.b[mark] in seen, mark
    assert w.b["mark_secret"] in w.secrets and w.b["mark_url"] in w.public
    rows = await snapshot(stage.where)
    empty = [t for t in ("tenants", "identifiers", "api_keys", "memberships", "users",
                         "bulk_jobs", "gs1_links", "code_mappings", "metadata_templates",
                         "snms_accounts", "scheme_codes", "scheme_namespaces",
                         "onboarding_applications", "audit_log") if not rows.get(t)]  # fmt: skip
    assert not empty, f"the snapshot sees none of B's rows in {empty}"


@pytest.fixture(scope="module")
async def wire(stage: Stage) -> AsyncIterator[tuple[str, int]]:
    from core.settings import get_settings
    from resolver.wire.listener import WireListener
    from resolver.wire.server import WireServer

    for _ in range(20):
        listener = WireListener(WireServer(stage.app.resolver, get_settings()))
        port = free_port()
        await listener.start("127.0.0.1", port)
        if listener.bound:
            break
    yield ("127.0.0.1", port)
    await listener.stop()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


WIRE_OPS = ("CREATE_HANDLE", "ADD_VALUE", "MODIFY_VALUE", "REMOVE_VALUE", "DELETE_HANDLE",
            "LIST_HANDLES", "LIST_NODE", "RESOLUTION")  # fmt: skip


@pytest.mark.parametrize("op", WIRE_OPS)
async def test_wire_isolation(stage: Stage, wire: tuple[str, int], op: str) -> None:
    """The Handle protocol over TCP: A's HS_SECKEY identity, a forged identity of B and
    nobody, against B's record. Administration is refused (rc 400-403); resolution
    answers B's public values only."""
    from isolation_world import A_SECKEY

    from core.values import HandleValue, ValueData
    from resolver.wire import bodies
    from resolver.wire.adminclient import Credential, request
    from resolver.wire.constants import DEFAULT_REQUEST_FLAGS, OpCode, OpFlag

    w = stage.world
    h = w.b["handle"]
    evil = [HandleValue(9, "URL", ValueData("string", "https://evil.example/"), timestamp="")]
    body = {
        "CREATE_HANDLE": bodies.values_body(f"{w.b_prefix}/WIRE-NEW", evil),
        "ADD_VALUE": bodies.values_body(h, evil),
        "MODIFY_VALUE": bodies.values_body(h, [HandleValue(
            1, "URL", ValueData("string", "https://evil.example/"), timestamp="")]),
        "REMOVE_VALUE": bodies.remove_value_body(h, [1, 4]),
        "DELETE_HANDLE": bodies.handle_body(h),
        "LIST_HANDLES": bodies.handle_body(f"0.NA/{w.b_prefix}"),
        "LIST_NODE": bodies.handle_body("0.NA/88.100"),
        "RESOLUTION": bodies.resolution_request_body(h),
    }[op]  # fmt: skip
    creds = {
        "A's identity": Credential(f"{w.a_prefix}/admin", 300, secret=A_SECKEY.encode()),
        "A's secret as B's admin": Credential(f"{w.b_prefix}/admin", 300,
                                              secret=A_SECKEY.encode()),
        "nobody": None,
    }  # fmt: skip
    flags = DEFAULT_REQUEST_FLAGS & ~OpFlag.PUBL  # ask for restricted values too
    found = []
    for who, cred in creds.items():
        opcode = OpCode.LIST_HANDLES if op == "LIST_NODE" else getattr(OpCode, op)
        replies = await request(opcode, body, cred, server=wire, op_flags=flags)
        rc = replies[-1][0].header.rc
        seen = repr(replies)
        found += [f"{who}: shows B's private {m!r}" for m in w.secrets if m in seen]
        if op == "RESOLUTION":
            if rc == 1 and w.b["mark_url"] not in seen:
                found.append(f"{who}: resolution lost B's public values")
            elif rc not in (1, 402, 403):
                found.append(f"{who}: resolution answered rc {rc}")
        elif rc not in (400, 401, 402, 403):
            found.append(f"{who}: {op} answered rc {rc}, not 400-403")
    after = await snapshot(stage.where)
    changed = diff(stage.baseline, after)
    stage.baseline = after
    assert not found and not changed, "\n".join(found + [f"B's rows changed: {c}" for c in changed])
