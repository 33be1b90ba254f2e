"""The GS1 Digital Link resolver, one behaviour per test (GS1-Conformant Resolver 1.2,
REFERENCE.md §5): status codes and headers as a scanner or browser would see them."""

from __future__ import annotations

from typing import Any

import pytest
from schemes_helpers import add_link, fresh_gcp, grant, gtin, register, wrong_check

pytestmark = pytest.mark.anyio


async def _key(client: Any, t: Any, gcp: str, item: int = 1, **links: str) -> str:
    g = gtin(gcp, item)
    r = await add_link(client, t, f"/01/{g}", "https://brand.example/pip", title="Product page")
    assert r.status_code == 201, r.text
    return g


async def test_redirects_307_to_the_default_link_with_cors_and_link_header(client, tenant_a, gs1_a):
    g = await _key(client, tenant_a, gs1_a)
    for _ in range(2):  # a miss (loads), then the cached fast path: the same answer
        r = await client.get(f"/01/{g}")
        assert r.status_code == 307
        assert r.headers["location"] == "https://brand.example/pip"
        assert r.headers["access-control-allow-origin"] == "*"
        assert r.headers["link"] == (
            f'</01/{g}?linkType=linkset>; rel="linkset"; type="application/linkset+json"'
        )


async def test_short_gtin_resolves_as_its_14_digit_form(client, tenant_a, gs1_a):
    g = await _key(client, tenant_a, gs1_a)
    r = await client.get(f"/01/{g[1:]}")  # GTIN-13
    assert r.status_code == 307 and r.headers["location"] == "https://brand.example/pip"


async def test_link_type_selects_that_link(client, tenant_a, gs1_a):
    g = await _key(client, tenant_a, gs1_a)
    await add_link(client, tenant_a, f"/01/{g}", "https://brand.example/cert",
                   link_type="gs1:certificationInfo")  # fmt: skip
    r = await client.get(f"/01/{g}?linkType=gs1:certificationInfo")
    assert r.status_code == 307
    assert r.headers["location"] == "https://brand.example/cert"
    r = await client.get(f"/01/{g}?linkType=https://gs1.org/voc/certificationInfo")
    assert r.headers["location"] == "https://brand.example/cert"


async def test_absent_link_type_is_404(client, tenant_a, gs1_a):
    g = await _key(client, tenant_a, gs1_a)
    r = await client.get(f"/01/{g}?linkType=gs1:recipeInfo")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "gs1:recipeInfo" in r.json()["detail"]
    assert r.headers["access-control-allow-origin"] == "*"


async def test_malformed_link_type_is_400(client, tenant_a, gs1_a):
    g = await _key(client, tenant_a, gs1_a)
    r = await client.get(f"/01/{g}?linkType=no%20such")
    assert r.status_code == 400


async def test_accept_language_selects_the_language_variant(client, tenant_a, gs1_a):
    g = await _key(client, tenant_a, gs1_a)
    await add_link(client, tenant_a, f"/01/{g}", "https://brand.example/zh", language="zh-CN")
    await add_link(client, tenant_a, f"/01/{g}", "https://brand.example/de", language="de")
    r = await client.get(f"/01/{g}", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert r.headers["location"] == "https://brand.example/zh"
    r = await client.get(f"/01/{g}", headers={"Accept-Language": "de-AT"})
    assert r.headers["location"] == "https://brand.example/de"
    r = await client.get(f"/01/{g}", headers={"Accept-Language": "fr"})
    assert r.headers["location"] == "https://brand.example/pip"  # the default
    r = await client.get(f"/01/{g}")
    assert r.headers["location"] == "https://brand.example/pip"


async def test_context_selects_the_context_variant(client, tenant_a, gs1_a):
    g = await _key(client, tenant_a, gs1_a)
    await add_link(client, tenant_a, f"/01/{g}", "https://brand.example/returns",
                   context="dscsaSaleableReturn")  # fmt: skip
    r = await client.get(f"/01/{g}?context=dscsaSaleableReturn")
    assert r.status_code == 307
    assert r.headers["location"].startswith("https://brand.example/returns")
    r = await client.get(f"/01/{g}?context=other")
    assert r.headers["location"].startswith("https://brand.example/pip")


async def test_walks_up_from_lot_and_serial_to_the_gtin(client, tenant_a, gs1_a):
    g = await _key(client, tenant_a, gs1_a)
    r = await client.get(f"/01/{g}/10/LOT1/21/SER9")
    assert r.status_code == 307
    assert r.headers["location"] == "https://brand.example/pip"


async def test_a_lot_link_wins_over_the_gtin_link(client, tenant_a, gs1_a):
    g = await _key(client, tenant_a, gs1_a)
    await add_link(client, tenant_a, f"/01/{g}/10/LOT1", "https://brand.example/lot1",
                   link_type="gs1:recallStatus")  # fmt: skip
    r = await client.get(f"/01/{g}/10/LOT1/21/S1")
    assert r.headers["location"] == "https://brand.example/lot1"
    # a link type only the GTIN has is found by walking up
    r = await client.get(f"/01/{g}/10/LOT1?linkType=gs1:pip")
    assert r.headers["location"] == "https://brand.example/pip"
    r = await client.get(f"/01/{g}/10/LOT2")
    assert r.headers["location"] == "https://brand.example/pip"


@pytest.mark.parametrize(
    "path,needle",
    [
        ("/01/09506000134353", "check digit should be 2"),
        ("/01/09506000134", "GTIN must be 8, 12, 13 or 14 digits"),
        ("/01/09506000134352/21/S/10/L", "must come before"),
        ("/01/09506000134352/99/X", "not a qualifier"),
        ("/gtin/09506000134352", None),
        ("/01", "last AI has no value"),
        ("/00/123456789012345678", "check digit"),
        ("/12/34", "cannot start a Digital Link path"),
    ],
)
async def test_syntax_errors_are_400_never_200(client, path, needle):
    r = await client.get(path)
    if path.startswith("/gtin"):
        assert r.status_code != 200  # not a numeric AI path: not ours, never a 200
        return
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["access-control-allow-origin"] == "*"
    assert needle in r.json()["detail"]


async def test_unknown_key_and_unverified_prefix_are_404(client, tenant_a):
    gcp = fresh_gcp()
    r = await client.get(f"/01/{gtin(gcp)}")
    assert r.status_code == 404
    from tenants.schemes.services.namespaces import request_namespace

    await request_namespace(tenant_a.id, "gs1", gcp, actor="test")  # pending only
    r = await add_link(client, tenant_a, f"/01/{gtin(gcp)}", "https://x.example/")
    assert r.status_code == 403
    assert (await client.get(f"/01/{gtin(gcp)}")).status_code == 404


@pytest.mark.parametrize("ask", ["?linkType=linkset", "?linkType=all", ""])
async def test_linkset_on_request(client, tenant_a, gs1_a, ask):
    g = await _key(client, tenant_a, gs1_a)
    await add_link(client, tenant_a, f"/01/{g}", "https://brand.example/zh", language="zh-CN",
                   media_type="text/html")  # fmt: skip
    headers = {} if ask else {"Accept": "application/linkset+json"}
    r = await client.get(f"/01/{g}{ask}", headers=headers)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/linkset+json"
    assert r.headers["access-control-allow-origin"] == "*"
    assert 'rel="linkset"' in r.headers["link"]
    (context,) = r.json()["linkset"]
    assert context["anchor"] == f"http://testserver/01/{g}"
    pips = context["https://gs1.org/voc/pip"]
    assert {"href": "https://brand.example/pip", "title": "Product page"} in pips
    # no title given: the vocabulary's label (every link in a linkset has a title)
    assert {"href": "https://brand.example/zh", "title": "Product Information Page",
            "hreflang": ["zh-cn"], "type": "text/html"} in pips  # fmt: skip
    assert context["https://gs1.org/voc/defaultLink"] == [
        {"href": "https://brand.example/pip", "title": "Product page"}
    ]


async def test_query_string_is_passed_through(client, tenant_a, gs1_a):
    g = gtin(gs1_a)
    await add_link(client, tenant_a, f"/01/{g}", "https://brand.example/p?src=dl")
    r = await client.get(f"/01/{g}?17=261231&linkType=gs1:pip&x=%20y")
    assert r.status_code == 307
    assert r.headers["location"] == "https://brand.example/p?src=dl&17=261231&x=%20y"
    g2 = await _key(client, tenant_a, gs1_a, item=2)
    r = await client.get(f"/01/{g2}?17=261231")
    assert r.headers["location"] == "https://brand.example/pip?17=261231"


async def test_head_answers_like_get_without_a_body(client, tenant_a, gs1_a):
    g = await _key(client, tenant_a, gs1_a)
    for path, status in [(f"/01/{g}", 307), (f"/01/{wrong_check(g)}", 400),
                         (f"/01/{gtin(gs1_a, 99)}", 404)]:  # fmt: skip
        get = await client.get(path)
        head = await client.head(path)
        assert head.status_code == get.status_code == status
        assert head.content == b""
        assert head.headers.get("location") == get.headers.get("location")
        assert head.headers["access-control-allow-origin"] == "*"


async def test_options_preflight_with_cors(client, tenant_a, gs1_a):
    r = await client.options(
        f"/01/{gtin(gs1_a)}",
        headers={"Origin": "https://a.example", "Access-Control-Request-Method": "GET"},
    )
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "*"
    assert "GET" in r.headers["access-control-allow-methods"]
    assert "HEAD" in r.headers["allow"] and "OPTIONS" in r.headers["allow"]
    assert "Accept-Language" in r.headers["access-control-allow-headers"]


async def test_other_methods_are_405(client):
    r = await client.post("/01/09506000134352")
    assert r.status_code == 405
    assert "GET" in r.headers["allow"]


async def test_well_known_resolver_description(client):
    r = await client.get("/.well-known/gs1resolver")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.headers["access-control-allow-origin"] == "*"
    body = r.json()
    assert body["resolverRoot"] == "http://testserver"
    assert body["supportedLinkType"][0]["prefix"] == "gs1:"
    assert {"01", "00", "414", "8003", "8004"} <= set(body["supportedPrimaryKeys"])
    assert body["linkTypeDefaultCanBeLinkset"] is True


async def test_exactly_one_default_link_and_changes_show_at_once(client, tenant_a, gs1_a):
    g = await _key(client, tenant_a, gs1_a)
    assert (await client.get(f"/01/{g}")).headers["location"] == "https://brand.example/pip"
    r = await add_link(client, tenant_a, f"/01/{g}", "https://brand.example/new",
                       link_type="gs1:homepage", is_default=True)  # fmt: skip
    new_id = r.json()["id"]
    # the cached redirect was invalidated by the write
    assert (await client.get(f"/01/{g}")).headers["location"] == "https://brand.example/new"
    listed = (await client.get(f"/api/v1/gs1/links?key=/01/{g}", headers=tenant_a.auth())).json()
    assert [x["isDefault"] for x in listed["links"]].count(True) == 1
    # deleting the default promotes the remaining link
    r = await client.delete(f"/api/v1/gs1/links/{new_id}", headers=tenant_a.auth())
    assert r.status_code == 200
    assert (await client.get(f"/01/{g}")).headers["location"] == "https://brand.example/pip"


async def test_revoked_prefix_stops_resolving(client, tenant_a, gs1_a):
    from tenants.schemes.services.namespaces import review_namespace

    g = await _key(client, tenant_a, gs1_a)
    assert (await client.get(f"/01/{g}")).status_code == 307
    await review_namespace("gs1", gs1_a, verified=False, actor="staff:test", note="fraud")
    assert (await client.get(f"/01/{g}")).status_code == 404


async def test_other_keys_sscc_gln_grai_giai_resolve(client, tenant_a, gs1_a):
    from core.schemes.gs1 import gs1_check_digit

    sscc = "0" + gs1_a + "0000001"
    sscc += str(gs1_check_digit(sscc))
    gln = gs1_a + "123"
    gln += str(gs1_check_digit(gln))
    grai = gs1_a + "012"
    grai = "0" + grai + str(gs1_check_digit(grai)) + "A1"
    giai = gs1_a + "ASSET-7"
    for ai, value in [("00", sscc), ("414", gln), ("8003", grai), ("8004", giai)]:
        r = await add_link(client, tenant_a, f"/{ai}/{value}", f"https://brand.example/{ai}")
        assert r.status_code == 201, r.text
        r = await client.get(f"/{ai}/{value}")
        assert r.status_code == 307 and r.headers["location"] == f"https://brand.example/{ai}"
    r = await client.get(f"/414/{gln}/254/EXT1")  # walk-up from a GLN extension
    assert r.headers["location"] == "https://brand.example/414"


async def test_another_tenants_prefix_is_not_theirs(client, tenant_a, tenant_b, gs1_a):
    g = await _key(client, tenant_a, gs1_a)
    r = await add_link(client, tenant_b, f"/01/{g}", "https://evil.example/")
    assert r.status_code == 403
    assert gs1_a not in r.text or "not under" in r.text
    r = await register(client, tenant_b, "gs1", f"/01/{g}")
    assert r.status_code == 403
    assert (await client.get(f"/01/{g}")).headers["location"] == "https://brand.example/pip"
    await grant(tenant_b, "gs1", fresh_gcp())
    assert (await register(client, tenant_b, "gs1", f"/01/{g}")).status_code == 403


async def test_garbage_paths_never_answer_200_or_500(client, tenant_a, gs1_a):
    import random

    g = await _key(client, tenant_a, gs1_a)
    rng = random.Random(2641)
    alphabet = "0123456789/%AZaz-._~!'()*+,;=:@"
    pieces = [f"/01/{g}", "/10/", "/21/", "/22/", "/235/", "/254/", "/414/", "/00/", "%2F", "%"]
    for _ in range(150):
        path = "/" + rng.choice("0123456789")
        for _ in range(rng.randrange(1, 6)):
            path += (
                rng.choice(pieces)
                if rng.random() < 0.5
                else "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 8)))
            )
        r = await client.get(path + rng.choice(["", "?linkType=all", "?linkType=gs1:pip&a=1"]))
        assert r.status_code in (200, 307, 400, 404), (path, r.status_code, r.text)
        if r.status_code == 200:
            assert r.headers["content-type"] == "application/linkset+json", path
