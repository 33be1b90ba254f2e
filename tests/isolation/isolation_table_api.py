"""The isolation cases of the JSON APIs: Handle REST, schemes, registry, SNMS, bulk."""

from __future__ import annotations

from isolation_cases import HDL, Body, C, Case, P

H = "/api/handles/{handle:path}"
EVIL = [{"index": 1, "type": "URL", "data": "https://evil.example/"}]
SNMS_ITEM = {"handle": "{handle}", "value": [{"index": 1, "type": "URL",
             "data": {"format": "string", "value": "https://evil.example/"}}]}  # fmt: skip
NS = Body(json={"scheme": "gs1", "value": "{gs1_ns}"})
LINK = {"key": "/{gs1_code}", "link_type": "gs1:pip", "href": "https://evil.example/"}
TPL = {"code": "a{template}", "name": "evil", "extends": "core@1", "items": []}
PUBLIC_RESOLUTION = "public resolution: anyone may read B's public values, never others"

API: list[Case] = [
    C("GET", "/api/grants", "scoped"),
    C("GET", "/api/devices/me", "scoped"),  # A's own credential: 403, not a device
    C("POST", "/api/grants", "scoped", body=Body(json={"to": "{b_prefix}", "pattern": "A-*"})),
    C("DELETE", "/api/grants/{grant_id:str}", fill={"grant_id": "grant_id"}, cross=True),
    C("GET", "/api/billing/usage", "scoped", queries=("", "?month=2026-01")),
    C(
        "GET",
        "/api/billing/usage",
        "scoped",
        queries=("?month=bad", "?month=2026-13"),
        also_refused=(400,),
        why="not a month: a bad request, nothing shown",
    ),
    C("GET", "/api/billing/invoices", "scoped"),
    C("GET", "/api/billing/invoices/{number:str}", fill={"number": "invoice"}),
    C(
        "GET",
        "/api/billing/invoices/{number:str}/pdf",
        fill={"number": "invoice"},
        queries=("", "?lang=en"),
    ),
    P("GET", "/healthz", "liveness: no tenant data"),
    P("GET", "/readyz", "readiness: no tenant data"),
    P("GET", "/metrics", "node-wide counts by door and result: no tenant, identifier or source"),
    P(
        "GET",
        H,
        PUBLIC_RESOLUTION,
        queries=(
            "",
            "?publicOnly=false",
            "?auth=true&publicOnly=false",
            "?index=4&publicOnly=false",
            "?type=EMAIL&publicOnly=false",
        ),
    ),
    C("PUT", H, queries=("", "?index=1", "?overwrite=false"), body=Body(json=EVIL)),
    C("DELETE", H, queries=("", "?index=4")),
    C(
        "PATCH",
        H,
        bodies=(Body(json={"status": "revoked"}), Body(json={"validUntil": "2000-01-01"})),
    ),
    C("GET", "/api/lifecycle/{handle:path}"),
    C("GET", "/api/usage/{handle:path}", queries=("", "?days=30")),
    C("GET", "/api/settings/lifecycle", "scoped"),
    C("PUT", "/api/settings/lifecycle", "scoped", body=Body(json={"expired": "refuse"})),
    C(
        "GET",
        "/api/handles",
        queries=(
            "?prefix={b_prefix}",
            "?prefix=88.100",
            "?prefix={b_prefix}/",
            "?prefix={b_prefix}&page=0&pageSize=1000",
        ),
    ),
    C(
        "GET",
        "/api/handles",
        queries=(
            "?prefix=88",
            "?prefix=0.NA/{b_prefix}",
            "?prefix=%20{b_prefix}",
            "",
            "?page=0&pageSize=1000",
        ),
        also_refused=(400,),
        why="a prefix the node does not serve (rc 301), or none: a bad request, nothing listed",
    ),
    P(
        "GET",
        "/{handle:path}",
        PUBLIC_RESOLUTION + " (the proxy redirects to the public URL)",
        queries=("", "?noredirect", "?noredirect&publicOnly=false"),
    ),
    P(
        "GET",
        "/{handle:path}",
        PUBLIC_RESOLUTION + " (a GS1 Digital Link and its links)",
        queries=("", "?linkType=all", "?linkType=gs1:certificationInfo"),
        fill={"handle": "gs1_path"},
    ),
    P(
        "POST",
        "/{handle:path}",
        PUBLIC_RESOLUTION + " over the Handle protocol's HTTP door",
        bodies=(Body(wire="resolve", headers=HDL), Body(wire="create", headers=HDL)),
    ),
    P(
        "POST",
        "/",
        "the Handle protocol's HTTP door: the message names B's record",
        bodies=(Body(wire="resolve", headers=HDL), Body(wire="create", headers=HDL)),
    ),
    C("GET", "/api/v1/namespaces", "scoped"),
    C(
        "POST",
        "/api/v1/namespaces",
        body=NS,
        also_refused=(409,),
        why="namespaces are unique on the node: the claim conflicts, naming no holder",
    ),
    C("GET", "/api/v1/schemes/{scheme:str}/codes", "scoped"),
    C(
        "POST",
        "/api/v1/schemes/{scheme:str}/codes",
        body=Body(json={"code": "{gs1_code}", "url": "https://evil.example/"}),
    ),
    C("GET", "/api/v1/schemes/{scheme:str}/codes/{code:path}", fill={"code": "gs1_code"}),
    C("DELETE", "/api/v1/schemes/{scheme:str}/codes/{code:path}", fill={"code": "gs1_code"}),
    C("GET", "/api/v1/gs1/links", "scoped", query="?key=/{gs1_code}"),
    C("POST", "/api/v1/gs1/links", body=Body(json=LINK)),
    C("GET", "/api/v1/gs1/links/{link_id:int}"),
    C(
        "PATCH",
        "/api/v1/gs1/links/{link_id:int}",
        body=Body(json={"href": "https://evil.example/"}),
    ),
    C("DELETE", "/api/v1/gs1/links/{link_id:int}"),
    C("GET", "/api/v1/gs1/items", "scoped"),
    C("GET", "/api/v1/gs1/items/{key:path}", fill={"key": "gs1_code"}),
    C(
        "PUT",
        "/api/v1/gs1/items/{key:path}",
        fill={"key": "gs1_code"},
        body=Body(json={"description": "evil"}),
    ),
    C("DELETE", "/api/v1/gs1/items/{key:path}", fill={"key": "gs1_code"}),
    C("GET", "/api/v1/mappings", "scoped"),
    C(
        "POST",
        "/api/v1/mappings",
        body=Body(json={"private_code": "{private_code}", "public": "{hidden}"}),
    ),
    C(
        "POST",
        "/api/v1/mappings/bulk",
        "scoped",
        body=Body(json=[{"private_code": "{private_code}", "public": "{hidden}"}]),
    ),
    C("DELETE", "/api/v1/mappings", query="?private={private_code}"),
    C(
        "GET",
        "/api/v1/mappings/resolve",
        "scoped",
        queries=("?private={private_code}", "?public={handle}"),
    ),
    P(
        "GET",
        "/oid/{dotted:str}",
        PUBLIC_RESOLUTION,
        queries=("", "?publicOnly=false"),
        fill={"dotted": "oid_code"},
    ),
    P(
        "GET",
        "/ecode/{code:str}",
        PUBLIC_RESOLUTION,
        queries=("", "?publicOnly=false"),
        fill={"code": "ecode_code"},
    ),
    P(
        "GET",
        "/vaa/{code:str}",
        PUBLIC_RESOLUTION,
        queries=("", "?publicOnly=false"),
        fill={"code": "vaa_code"},
    ),
    C(
        "GET",
        "/api/search",
        "scoped",
        queries=(
            "?q={suffix}",
            "?value=b.example",
            "?q={hidden}",
            "?template={template}",
            "?owner={b_prefix}&q={suffix}",
            "?owner={b_prefix}&value=b.example",
        ),
    ),
    C("GET", "/hrls/handles", "scoped", queries=("?URL=*b.example*", "?EMAIL=*")),
    C("GET", "/api/clients", "scoped"),
    C("POST", "/api/clients", "scoped", body=Body(json={"name": "evil", "scopes": ["write"]})),
    C("DELETE", "/api/clients/{client_id:str}", fill={"client_id": "client_id"}, cross=True),
    P(
        "POST",
        "/oauth/token",
        "the token endpoint: B's client with a wrong secret is refused",
        body=Body(
            form={
                "grant_type": "client_credentials",
                "client_id": "{client_id}",
                "client_secret": "x",
            }
        ),
        kinds=("anon", "key"),
        may_change={"audit_log": "a wrong secret for B's client is in B's audit, by design"},
    ),
    P("GET", "/.well-known/jwks.json", "the node's public token-signing keys: no tenant data"),
    P(
        "GET",
        "/.well-known/oauth-authorization-server",
        "the node's OAuth2 metadata (RFC 8414): no tenant data",
    ),
    P(
        "POST",
        "/identity/token",
        "SNMS login door: B's user with a wrong password is refused",
        body=Body(json={"username": "{snms_user}", "password": "wrong-password"}),
        kinds=("anon", "snms"),  # a login door reads no credential
    ),
    P(
        "POST",
        "/identity/token/v1",
        "SNMS login door: B's user with a wrong digest is refused",
        body=Body(json={"username": "{snms_user}", "password": "0" * 64}),
        kinds=("anon", "snms"),  # a login door reads no credential
    ),
    C("POST", "/identityv2/data", body=Body(json=SNMS_ITEM)),
    C("PUT", "/identityv2/data", body=Body(json=SNMS_ITEM)),
    C(
        "DELETE",
        "/identityv2/data",
        bodies=(Body(json={"handle": "{handle}"}), None),
        queries=("", "?handle={handle}"),
    ),
    C("POST", "/identityv2/data/batchCreate", body=Body(json=[SNMS_ITEM])),
    C("PUT", "/identityv2/data/batchUpdate", body=Body(json=[SNMS_ITEM])),
    C(
        "DELETE",
        "/identityv2/data/batchDelete",
        body=Body(json=["{handle}", {"handle": "{hidden}"}]),
    ),
    C("GET", "/identityv2/data/detail", queries=("?handle={handle}", "?handle={hidden}")),
    C("GET", "/snms/api/v5/template", queries=("?prefix={b_prefix}",)),
    C("GET", "/snms/api/v5/template", "scoped", queries=("?version={template}@1",)),
    C("POST", "/snms/api/v5/template", "scoped", body=Body(json=TPL)),
    C("PUT", "/snms/api/v5/template", "scoped", body=Body(json=TPL)),
    C("GET", "/api/bulk/jobs", "scoped"),
    C(
        "POST",
        "/api/bulk/jobs",
        "scoped",
        query="?format=ndjson&mode=upsert",
        body=Body(
            content=b'{"handle": "{handle}", "values": [{"index": 1, "type": "URL", '
            b'"data": "https://evil.example/"}]}\n',
            headers={"Content-Type": "application/x-ndjson"},
        ),
    ),
    C("GET", "/api/bulk/jobs/{job_id:str}"),
    C("POST", "/api/bulk/jobs/{job_id:str}/cancel"),
    C("GET", "/api/bulk/jobs/{job_id:str}/results", queries=("", "?format=csv")),
    C("GET", "/api/exports", "scoped"),
    C("POST", "/api/exports", "scoped"),
    C("GET", "/api/exports/{export_id:str}"),
    C(
        "GET",
        "/api/exports/{export_id:str}/download",
        queries=("?token={export_token}", "?token="),
        body=Body(headers={"Range": "bytes=0-99"}),
    ),
    P(
        "POST",
        "/api/billing/stripe/webhook",
        "Stripe calls it; only a body signed with the node's webhook secret acts (an unsigned "
        "one is refused 400/404, changing nothing)",
        body=Body(json={"id": "evt_evil", "type": "invoice.paid", "data": {"object": {}}}),
    ),
]
