"""GS1 linksets as a conformance checker reads them: GS1's linkset JSON schema (an
``itemDescription`` on every entry, a title on every link), one entry per walk-up
level, a single default link without optional attributes, the JSON-LD context Link
header; and the item descriptions tenants manage for them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from schemes_helpers import JSON, add_link, fresh_gcp, grant, gtin

pytestmark = pytest.mark.anyio

FIXTURES = Path(__file__).with_name("fixtures")
ROOT = Path(__file__).resolve().parents[2]
JSONLD_CONTEXT = (
    "<https://ref.gs1.org/standards/resolver/linkset-context>; "
    'rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
)


def _schemas() -> list[tuple[str, dict[str, Any]]]:
    """The restated schema always; GS1's own file too where one is provided."""
    found = [("restated", json.loads((FIXTURES / "gs1_linkset_schema.json").read_text()))]
    official = os.environ.get("IDNEST_GS1_LINKSET_SCHEMA") or str(
        ROOT.parent / "shared" / "data" / "gs1-linkset-schema.json"
    )
    if Path(official).is_file():
        found.append(("GS1's", json.loads(Path(official).read_text(encoding="utf-8-sig"))))
    return found


def assert_valid_linkset(body: dict[str, Any]) -> None:
    for name, schema in _schemas():
        errors = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(body)]
        assert not errors, (name, errors, body)


def test_the_schema_refuses_what_gs1_refuses():
    """The checks the tests rely on do fail: a linkset without itemDescription, or with a
    title-less link, or with an unknown member, is invalid."""
    pip = [{"href": "https://a.example/", "title": "t"}]
    good = {"linkset": [{"anchor": "https://id.example/01/1", "itemDescription": "x",
                         "https://gs1.org/voc/pip": pip}]}  # fmt: skip
    assert_valid_linkset(good)
    no_description = {"linkset": [{k: v for k, v in good["linkset"][0].items()
                                   if k != "itemDescription"}]}  # fmt: skip
    no_title = json.loads(json.dumps(good))
    del no_title["linkset"][0]["https://gs1.org/voc/pip"][0]["title"]
    extra = json.loads(json.dumps(good))
    extra["@context"] = {}
    bad_lang = json.loads(json.dumps(good))
    bad_lang["linkset"][0]["https://gs1.org/voc/pip"][0]["hreflang"] = ["zh-Hans-CN"]
    for name, schema in _schemas():
        validator = jsonschema.Draft7Validator(schema)
        for bad in (no_description, no_title, extra, bad_lang):
            assert list(validator.iter_errors(bad)), (name, bad)


async def _describe(client: Any, t: Any, key: str, text: str) -> Any:
    return await client.put(
        f"/api/v1/gs1/items{key}", json={"description": text}, headers={**t.auth(), **JSON}
    )


async def _rich_key(client: Any, t: Any, gcp: str) -> str:
    """A GTIN with several link types, variants and a lot level, as tenants build them."""
    g = gtin(gcp)
    key = f"/01/{g}"
    for href, extra in [
        ("https://brand.example/pip", {"title": "Product page", "language": "en"}),
        ("https://brand.example/zh", {"language": "zh-CN", "media_type": "text/html"}),
        ("https://brand.example/eifu", {"link_type": "gs1:eifu", "context": "hospital"}),
        ("https://brand.example/how", {"link_type": "gs1:instructions"}),
        ("https://brand.example/x", {"link_type": "https://voc.example.com/spec"}),
    ]:
        r = await add_link(client, t, key, href, **extra)
        assert r.status_code == 201, r.text
    r = await add_link(client, t, f"{key}/10/LOT1", "https://brand.example/recall",
                       link_type="gs1:recallStatus")  # fmt: skip
    assert r.status_code == 201, r.text
    return g


@pytest.mark.parametrize("path_tail", ["", "/10/LOT1", "/10/LOT1/21/S9", "/10/LOT2"])
@pytest.mark.parametrize(
    "query,headers",
    [
        ("?linkType=linkset", {}),
        ("?linkType=all", {}),
        ("", {"Accept": "application/linkset+json"}),
    ],
)
async def test_every_linkset_validates_against_gs1s_schema(
    client, tenant_a, gs1_a, path_tail, query, headers
):
    g = await _rich_key(client, tenant_a, gs1_a)
    if path_tail == "/10/LOT2":  # and with descriptions set
        assert (
            await _describe(client, tenant_a, f"/01/{g}", "Risotto rice 411 g")
        ).status_code == 201
    r = await client.get(f"/01/{g}{path_tail}{query}", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/linkset+json"
    body = r.json()
    assert_valid_linkset(body)
    for entry in body["linkset"]:
        for rel, targets in entry.items():
            if rel not in ("anchor", "itemDescription"):
                assert all(t["title"] for t in targets), (rel, targets)


async def test_linkset_of_a_qualified_key_has_every_level_up_to_the_primary_key(
    client, tenant_a, gs1_a
):
    g = await _rich_key(client, tenant_a, gs1_a)
    body = (await client.get(f"/01/{g}/10/LOT1/21/S9?linkType=linkset")).json()
    anchors = [e["anchor"] for e in body["linkset"]]
    assert anchors == [f"http://testserver/01/{g}/10/LOT1", f"http://testserver/01/{g}"]
    lot, product = body["linkset"]
    assert lot["https://gs1.org/voc/recallStatus"][0]["href"] == "https://brand.example/recall"
    assert "https://gs1.org/voc/eifu" in product and "https://gs1.org/voc/eifu" not in lot
    # exactly one default per entry, with no optional attributes
    assert lot["https://gs1.org/voc/defaultLink"] == [
        {"href": "https://brand.example/recall", "title": "Recall status"}
    ]
    assert product["https://gs1.org/voc/defaultLink"] == [
        {"href": "https://brand.example/pip", "title": "Product page"}
    ]


async def test_item_description_comes_from_the_tenant_with_fallbacks(client, tenant_a, gs1_a):
    g = await _rich_key(client, tenant_a, gs1_a)
    name = "Alpha Pumps"  # the tenant_a fixture's name

    def descriptions(body: dict[str, Any]) -> list[str]:
        return [e["itemDescription"] for e in body["linkset"]]

    url = f"/01/{g}/10/LOT1?linkType=linkset"
    assert descriptions((await client.get(url)).json()) == [
        f"{name} GTIN {g}, lot LOT1",
        f"{name} GTIN {g}",
    ]
    assert (await _describe(client, tenant_a, f"/01/{g}", "Risotto rice 411 g")).status_code == 201
    # the cached linkset was invalidated by the write
    assert descriptions((await client.get(url)).json()) == [
        "Risotto rice 411 g, lot LOT1",
        "Risotto rice 411 g",
    ]
    r = await _describe(client, tenant_a, f"/01/{g}/10/LOT1", "Risotto rice, harvest 2026")
    assert r.status_code == 201
    assert descriptions((await client.get(url)).json()) == [
        "Risotto rice, harvest 2026",
        "Risotto rice 411 g",
    ]
    r = await _describe(client, tenant_a, f"/01/{g}", "Risotto rice 1 kg")
    assert r.status_code == 200 and r.json()["description"] == "Risotto rice 1 kg"
    assert descriptions((await client.get(url)).json())[1] == "Risotto rice 1 kg"


async def test_linkset_sends_the_json_ld_context_link(client, tenant_a, gs1_a):
    g = await _rich_key(client, tenant_a, gs1_a)
    for method in (client.get, client.head):
        r = await method(f"/01/{g}?linkType=linkset")
        assert r.status_code == 200
        links = r.headers["link"].split(", ")
        assert JSONLD_CONTEXT in links
        assert (
            f'</01/{g}?linkType=linkset>; rel="linkset"; type="application/linkset+json"' in links
        )
    head = await client.head(f"/01/{g}?linkType=linkset")
    get = await client.get(f"/01/{g}?linkType=linkset")
    assert head.content == b"" and head.headers["content-length"] == str(len(get.content))
    # a redirect points at the linkset only
    r = await client.get(f"/01/{g}")
    assert r.status_code == 307 and "json-ld" not in r.headers["link"]


# -- the GS1 Web Vocabulary ----------------------------------------------------------------
def test_link_types_are_the_vocabulary_file_s():
    from core.schemes.gs1_vocab import DATA_FILE, vocabulary

    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    major, minor = (int(x) for x in data["version"].split(".")[:2])
    assert (major, minor) >= (1, 16)
    assert "gs1/WebVoc" in data["source"]
    assert set(vocabulary().link_types) == set(data["linkTypes"])
    assert len(vocabulary().link_types) >= 60
    assert "linkType" not in vocabulary().link_types  # the super-property, not a link type


def test_extraction_takes_sub_properties_of_link_type_only():
    from core.schemes.gs1_vocab import extract

    doc = {"@graph": [
        {"@id": "gs1:", "owl:versionInfo": "9.9", "dc:lastModified": {"@value": "2030-01-01"}},
        {"@id": "gs1:linkType", "rdfs:label": {"@language": "en", "@value": "Link Type"}},
        {"@id": "gs1:pip", "rdfs:subPropertyOf": {"@id": "gs1:linkType"},
         "sw:term_status": "stable",
         "rdfs:label": [{"@language": "fr", "@value": "Page"},
                        {"@language": "en", "@value": "PIP"}]},
        {"@id": "gs1:gtin", "rdfs:subPropertyOf": {"@id": "gs1:identifier"}},
    ]}  # fmt: skip
    out = extract(doc, "test")
    assert out["version"] == "9.9" and out["linkTypes"] == {
        "pip": {"label": "PIP", "status": "stable"}
    }


@pytest.mark.parametrize(
    "link_type",
    ["gs1:instructions", "gs1:eifu", "gs1:backgroundInfo", "gs1:openingHoursInfo",
     "gs1:reportFound", "https://www.gs1.org/voc/reportFound"],
)  # fmt: skip
async def test_vocabulary_link_types_are_accepted(client, tenant_a, gs1_a, link_type):
    r = await add_link(client, tenant_a, f"/01/{gtin(gs1_a)}", "https://x.example/",
                       link_type=link_type)  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["linkType"] == "gs1:" + link_type.rsplit("/", 1)[-1].removeprefix("gs1:")


@pytest.mark.parametrize(
    "link_type,needle",
    [
        ("gs1:backOfPackImage", "not a GS1 Web Vocabulary link type"),
        ("gs1:instructionsForUse", "not a GS1 Web Vocabulary link type"),
        ("gs1:linkType", "not a GS1 Web Vocabulary link type"),
        ("https://gs1.org/voc/instructionsForUse", "not a GS1 Web Vocabulary link type"),
        ("gs1:defaultLink", "set is_default"),
        ("https://voc.example.com/a#b", "letters, digits"),
    ],
)
async def test_non_link_types_are_refused(client, tenant_a, gs1_a, link_type, needle):
    r = await add_link(client, tenant_a, f"/01/{gtin(gs1_a)}", "https://x.example/",
                       link_type=link_type)  # fmt: skip
    assert r.status_code == 400, r.text
    assert needle in r.json()["detail"]


@pytest.mark.parametrize("language", ["zh-Hans-CN", "fil", "zh_CN"])
async def test_languages_a_linkset_cannot_carry_are_refused(client, tenant_a, gs1_a, language):
    r = await add_link(client, tenant_a, f"/01/{gtin(gs1_a)}", "https://x.example/",
                       language=language)  # fmt: skip
    assert r.status_code == 400 and "language tag" in r.json()["detail"]


# -- item descriptions through the API ---------------------------------------------------------
async def test_item_api_create_read_list_replace_delete(client, tenant_a, gs1_a):
    g = gtin(gs1_a, 7)
    key = f"/01/{g}"
    r = await _describe(client, tenant_a, key[:4] + g[1:], "  Pump P-300  ")  # GTIN-13 form
    assert r.status_code == 201
    assert r.json()["key"] == key and r.json()["description"] == "Pump P-300"
    r = await client.get(f"/api/v1/gs1/items{key}", headers=tenant_a.auth())
    assert r.status_code == 200 and r.json()["description"] == "Pump P-300"
    head = await client.head(f"/api/v1/gs1/items{key}", headers=tenant_a.auth())
    assert head.status_code == 200 and head.content == b""
    listed = (await client.get("/api/v1/gs1/items", headers=tenant_a.auth())).json()
    assert listed["totalCount"] == 1
    assert [(i["key"], i["description"]) for i in listed["items"]] == [(key, "Pump P-300")]
    assert (await client.head("/api/v1/gs1/items", headers=tenant_a.auth())).status_code == 200
    r = await client.delete(f"/api/v1/gs1/items{key}", headers=tenant_a.auth())
    assert r.status_code == 200
    r = await client.get(f"/api/v1/gs1/items{key}", headers=tenant_a.auth())
    assert r.status_code == 404


async def test_item_with_an_escaped_slash_in_a_qualifier(client, tenant_a, gs1_a):
    key = f"/01/{gtin(gs1_a)}/10/A%2FB"
    assert (await _describe(client, tenant_a, key, "Lot A/B")).status_code == 201
    r = await client.get(f"/api/v1/gs1/items{key}", headers=tenant_a.auth())
    assert r.status_code == 200 and r.json()["key"] == key


@pytest.mark.parametrize(
    "description,needle",
    [("   ", "must not be empty"), ("x" * 501, "at most 500"), ("a\nb", "control")],
)
async def test_bad_descriptions_are_400(client, tenant_a, gs1_a, description, needle):
    r = await _describe(client, tenant_a, f"/01/{gtin(gs1_a)}", description)
    assert r.status_code == 400 and needle in r.json()["detail"]


async def test_item_paging_is_bounded(client, tenant_a):
    for page in ("99999999999999999999", "-1"):
        r = await client.get(f"/api/v1/gs1/items?page={page}", headers=tenant_a.auth())
        assert r.status_code == 400, r.text
    r = await client.get("/api/v1/gs1/items?pageSize=100000", headers=tenant_a.auth())
    assert r.status_code == 400


async def test_another_tenant_cannot_see_or_describe_items(client, tenant_a, tenant_b, gs1_a):
    key = f"/01/{gtin(gs1_a)}"
    assert (await _describe(client, tenant_a, key, "Alpha's pump")).status_code == 201
    await grant(tenant_b, "gs1", fresh_gcp())
    r = await client.get(f"/api/v1/gs1/items{key}", headers=tenant_b.auth())
    assert r.status_code == 404 and "Alpha" not in r.text
    r = await _describe(client, tenant_b, key, "Hijacked")
    assert r.status_code == 403
    r = await client.delete(f"/api/v1/gs1/items{key}", headers=tenant_b.auth())
    assert r.status_code == 404
    listed = (await client.get("/api/v1/gs1/items", headers=tenant_b.auth())).json()
    assert all(i["key"] != key for i in listed["items"])
    r = await client.get(f"/api/v1/gs1/items{key}", headers=tenant_a.auth())
    assert r.json()["description"] == "Alpha's pump"
    r = await client.get(f"/api/v1/gs1/items{key}")
    assert r.status_code == 401


# -- HEAD and OPTIONS on every GS1 route ---------------------------------------------------------
async def test_head_and_options_on_the_well_known_file_and_405_with_allow(client):
    get = await client.get("/.well-known/gs1resolver")
    head = await client.head("/.well-known/gs1resolver")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(get.content))
    assert head.headers["access-control-allow-origin"] == "*"
    r = await client.options(
        "/.well-known/gs1resolver",
        headers={"Origin": "https://a.example", "Access-Control-Request-Method": "GET"},
    )
    assert r.status_code == 204
    assert r.headers["access-control-allow-methods"] == "GET, HEAD, OPTIONS"
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        r = await client.request(method, "/.well-known/gs1resolver")
        assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD, OPTIONS"
        assert r.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("tail", ["", "/10/LOT1/21/S9", "?linkType=gs1:nosuchlt", "X"])
async def test_options_and_head_on_resolver_paths(client, tenant_a, gs1_a, tail):
    g = await _rich_key(client, tenant_a, gs1_a)
    path = f"/01/{g}{tail}"
    r = await client.options(path, headers={"Origin": "https://a.example",
                                            "Access-Control-Request-Method": "HEAD"})  # fmt: skip
    assert r.status_code == 204 and "HEAD" in r.headers["access-control-allow-methods"]
    assert r.headers["access-control-allow-origin"] == "*"
    get, head = await client.get(path), await client.head(path)
    assert head.status_code == get.status_code and head.content == b""
    assert head.headers["access-control-allow-origin"] == "*"


async def test_gs1_api_get_routes_answer_head(client, tenant_a, gs1_a):
    r = await add_link(client, tenant_a, f"/01/{gtin(gs1_a)}", "https://x.example/")
    link_id = r.json()["id"]
    for path in ("/api/v1/gs1/links", f"/api/v1/gs1/links/{link_id}", "/api/v1/gs1/items"):
        get = await client.get(path, headers=tenant_a.auth())
        head = await client.head(path, headers=tenant_a.auth())
        assert head.status_code == get.status_code == 200, path
        assert head.content == b""
