"""The isolation cases of the portal: public pages, tenant console, staff console, docs."""

from __future__ import annotations

from isolation_cases import Body, C, Case, P, S, value_rows

TEMPLATE_FORM = Body(form={"code": "{template}", "name": "evil", "base": "{template}"})
ACCOUNT = "account door: sign-up, login, password and invitation links name no tenant data"
DOCS = "the OpenAPI documents of the node describe routes, not tenants"

CON = "/console/{prefix:str}"
PAGES = [
    P("GET", "/", "the node's home page"),
    P("GET", "/signup", ACCOUNT),
    P("POST", "/signup", ACCOUNT + " (an empty form is refused)", body=Body(form={})),
    P("GET", "/apply", ACCOUNT),
    P("GET", "/register", ACCOUNT),
    P("GET", "/confirm/{token:str}", ACCOUNT),
    C("GET", "/application", "scoped"),
    C("POST", "/application/resend", "scoped", body=Body(form={})),
    C("GET", "/application/edit", "scoped"),
    C("POST", "/application/edit", "scoped", body=Body(form={"company_name": "evil"})),
    P("GET", "/login", ACCOUNT),
    P(
        "POST",
        "/login",
        ACCOUNT + " (B's owner with a wrong password is refused)",
        body=Body(form={"email": "{b_owner}", "password": "wrong password!"}),
        ends_session=True,
    ),
    P("GET", "/login/totp", ACCOUNT),
    P("POST", "/login/totp", ACCOUNT, body=Body(form={"code": "000000"})),
    P(
        "POST",
        "/logout",
        ACCOUNT + " (ends only the caller's session)",
        body=Body(form={}),
        ends_session=True,
    ),
    P("GET", "/password/forgot", ACCOUNT),
    P(
        "POST",
        "/password/forgot",
        ACCOUNT + " (mails the link to B's own address only)",
        body=Body(form={"email": "{b_owner}"}),
        may_change={"onboarding_email_tokens": "a reset link, mailed to B's owner alone"},
    ),
    P("GET", "/password/reset/{token:str}", ACCOUNT),
    P(
        "POST",
        "/password/reset/{token:str}",
        ACCOUNT,
        body=Body(form={"password": "evil password 1", "password2": "evil password 1"}),
    ),
    P("GET", "/invite/{token:str}", ACCOUNT),
    P("POST", "/invite/{token:str}", ACCOUNT, body=Body(form={"password": "evil password 1"})),
    P("GET", "/static/{file_path:path}", "the portal's own CSS and JavaScript"),
    P("HEAD", "/static/{file_path:path}", "the portal's own CSS and JavaScript"),
    P("GET", "/staff/sso", "staff single sign-on starts here; no tenant data"),
    P(
        "GET",
        "/staff/sso/callback",
        "staff single sign-on returns here; no tenant data",
        query="?code=x&state=y",
    ),
    C("GET", "/console", "scoped"),
    C("GET", CON),
    C("GET", CON + "/statistics"),
    C("GET", CON + "/statistics.csv"),
    C("GET", CON + "/identifiers", queries=("", "?q={suffix}")),
    C(
        "GET",
        CON + "/identifiers",
        "scoped",
        fill={"prefix": "a_prefix"},
        queries=("?q={handle}", "?q={b_prefix}", "?after={hidden}", "?after={b_prefix}/"),
    ),
    C(
        "GET",
        CON + "/identifier",
        queries=("?h={suffix}", "?h={handle}", "?h=../{handle}"),
        cross=True,
    ),
    C(
        "GET",
        CON + "/identifier/edit",
        queries=("?h={suffix}", "?h={handle}", "?h=../{handle}"),
        cross=True,
    ),
    C("POST", CON + "/identifier/save", body=Body(form=value_rows("{suffix}", "https://evil/"))),
    C(
        "GET",
        CON + "/identifier/delete",
        queries=("?h={suffix}", "?h={handle}", "?h=../{handle}"),
        cross=True,
    ),
    C("POST", CON + "/identifier/delete", body=Body(form={"suffix": "{suffix}"})),
    C(
        "POST",
        CON + "/identifier/delete",
        "scoped",
        fill={"prefix": "a_prefix"},
        bodies=(Body(form={"suffix": "{handle}"}), Body(form={"suffix": "../{handle}"})),
    ),
    C("GET", CON + "/batch"),
    C("POST", CON + "/batch", body=Body(files=True)),
    C("GET", CON + "/batch/{job_id:str}", cross=True),
    C("POST", CON + "/batch/{job_id:str}/cancel", body=Body(form={}), cross=True),
    C("GET", CON + "/batch/{job_id:str}/results", cross=True),
    C("GET", CON + "/schemes"),
    C(
        "POST",
        CON + "/schemes/namespace",
        body=Body(form={"scheme": "gs1", "value": "{gs1_ns}"}),
        cross=True,
        also_refused=(400,),
        why="A's own form shows the node-wide conflict",
    ),
    C(
        "POST",
        CON + "/schemes/link",
        cross=True,
        also_refused=(400,),
        why="A's own form says the key is outside A's namespaces",
        body=Body(form={"key": "/{gs1_code}", "link_type": "gs1:pip", "href": "https://e/"}),
    ),
    C("POST", CON + "/schemes/link/{link_id:int}/delete", body=Body(form={}), cross=True),
    C(
        "POST",
        CON + "/schemes/item",
        cross=True,
        also_refused=(400,),
        why="A's own form says the key is outside A's namespaces",
        body=Body(form={"item_key": "/{gs1_code}", "description": "evil"}),
    ),
    C("GET", CON + "/templates"),
    C("GET", CON + "/templates/-/new", query="?base={template}"),
    C(
        "GET",
        CON + "/templates/-/new",
        "scoped",
        query="?base={template}",
        fill={"prefix": "a_prefix"},
    ),
    C("POST", CON + "/templates/-/new", body=TEMPLATE_FORM),
    C("GET", CON + "/templates/{code:str}/edit", fill={"code": "template"}, cross=True),
    C(
        "POST",
        CON + "/templates/{code:str}/edit",
        fill={"code": "template"},
        cross=True,
        body=TEMPLATE_FORM,
    ),
    C("GET", CON + "/templates/{code:str}", fill={"code": "template"}, cross=True),
    C("GET", CON + "/keys"),
    C("POST", CON + "/keys", body=Body(form={"name": "evil", "scopes": "write"})),
    C("POST", CON + "/keys/{key_id:str}/revoke", body=Body(form={}), cross=True),
    C("GET", CON + "/members"),
    C("POST", CON + "/members", body=Body(form={"email": "evil@example.com", "role": "owner"})),
    C("POST", CON + "/members/{membership_id:int}/remove", body=Body(form={}), cross=True),
    C(
        "POST",
        CON + "/members/{membership_id:int}/role",
        body=Body(form={"role": "owner"}),
        cross=True,
    ),
    C("GET", CON + "/profile"),
    C("POST", CON + "/profile", body=Body(form={"contact_name": "evil", "address": "evil"})),
]

STAFF = [
    S("GET", "/staff"),
    S("GET", "/staff/totp"),
    S("POST", "/staff/totp", body=Body(form={"code": "000000"})),
    S("GET", "/staff/applications"),
    S("GET", "/staff/applications/{app_id:int}"),
    S("GET", "/staff/applications/{app_id:int}/licence"),
    S("POST", "/staff/applications/{app_id:int}/{action:str}", body=Body(form={"reason": "x"})),
    S("GET", "/staff/tenants"),
    S("GET", "/staff/tenants/{prefix:str}"),
    S("POST", "/staff/tenants/{prefix:str}/status", body=Body(form={"status": "suspended"})),
    S("POST", "/staff/tenants/{prefix:str}/profile/{decision:str}", body=Body(form={})),
    S("GET", "/staff/users"),
    S("POST", "/staff/users", body=Body(form={"email": "evil@example.com", "roles": "admin"})),
    S("POST", "/staff/users/{user_id:int}/roles", body=Body(form={"roles": "admin"})),
    S("POST", "/staff/users/{user_id:int}/totp-reset", body=Body(form={})),
    S("GET", "/staff/node"),
    S("GET", "/staff/outbox"),
    S("GET", "/staff/statistics"),
    S("GET", "/staff/node/profile"),
    S("POST", "/staff/node/profile", body=Body(form={"node_name": "evil"})),
    S("GET", "/staff/template-requests"),
    S("POST", "/staff/template-requests", body=Body(form={"industry": "13", "name": "evil"})),
    S("GET", "/staff/statistics.csv"),
    S("POST", "/staff/outbox/{outbox_id:int}/resend", body=Body(form={}), fill={"outbox_id": "=1"}),
    S("GET", "/staff/search", query="?q={suffix}"),
    S("POST", "/staff/search", body=Body(form={"q": "{suffix}"})),
    S("GET", "/staff/namespaces"),
    S("POST", "/staff/namespaces/{scheme:str}/{action:str}", body=Body(form={"value": "{gs1_ns}"})),
    S("GET", "/staff/templates"),
    S("GET", "/staff/templates/-/new"),
    S("POST", "/staff/templates/-/new", body=TEMPLATE_FORM),
    S("GET", "/staff/templates/{code:str}/edit", fill={"code": "template"}),
    S("POST", "/staff/templates/{code:str}/edit", fill={"code": "template"}, body=TEMPLATE_FORM),
    S("GET", "/staff/templates/{code:str}", fill={"code": "template"}),
]

SCHEMA = [
    P("GET", path, DOCS, kinds=("anon", "key"))
    for path in (
        "/schema",
        "/schema/openapi.json",
        "/schema/openapi.yaml",
        "/schema/openapi.yml",
        "/schema/swagger",
        "/schema/{path:str}",
        "/schema/oauth2-redirect.html",
    )
]

SCHEMA += [
    P(method, "/schema-ui/{file_path:path}", DOCS + " (the docs viewer's own files)",
      fill={"file_path": "=swagger-ui.css"})
    for method in ("GET", "HEAD")
]  # fmt: skip

PORTAL: list[Case] = [*PAGES, *STAFF, *SCHEMA]
