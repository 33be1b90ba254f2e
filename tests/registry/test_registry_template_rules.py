"""Rules of ``templates.save_template`` that editors and tenants run into.

Stale edits and racing saves are Conflicts (never a 500 or a raw unique-key error), a
tenant cannot take a node template's code, and industry levels below the division are
exactly 3 and 4 digits under their parent. Codes are fresh per test: node templates are
shared by every test of a run.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from node_support import as_node
from registry_helpers import put_values, snms_login, sv

pytestmark = pytest.mark.anyio

NAME = {"name": "名称", "idType": "name", "idIndex": 2000, "required": True, "state": 1}
MODEL = {"name": "型号", "idType": "model", "idIndex": 2001, "required": False, "state": 1}
LEVELS = {
    "industryCategory": "C",
    "industrySpecific": "34",
    "industryTrade": "341",
    "industrySubclass": "3411",
}


def _code(tag: str = "rule") -> str:
    return f"{tag}{uuid.uuid4().hex[:8]}"


async def _save(code: str, *items: dict[str, Any], tenant: int | None = None, **kw: Any) -> Any:
    from tenants.templates.services import templates

    body = {"name": code, "items": list(items or (NAME,)), **kw.pop("body", {})}
    return await templates.save_template(
        owner_tenant=tenant, code=code, body=body, actor="test", **kw
    )


async def _versions(code: str, tenant: int | None = None) -> list[int]:
    from tenants.templates.services import templates

    return [t.version for t in await templates.versions(tenant, code)]


async def _audited(code: str) -> list[str]:
    from core.tables import AuditLog

    async with as_node():
        rows = (
            await AuditLog.select(AuditLog.target)
            .where((AuditLog.action == "template.version") & AuditLog.target.like(f"{code}@%"))
            .order_by(AuditLog.id)
            .run()
        )
    return [r["target"] for r in rows]


# --- expect_latest: an editor that started from an older version --------------------


async def test_save_from_an_older_version_is_a_conflict_naming_the_current_one(client):
    from core.errors import Conflict

    code = _code()
    await _save(code, expect_latest=0)
    await _save(code, NAME, MODEL, expect_latest=1)
    # A second editor opened version 1 before the save above and saves now.
    with pytest.raises(Conflict) as exc:
        await _save(code, NAME, expect_latest=1)
    assert exc.value.http_status == 409 and exc.value.field == "code"
    assert "is at version 2 now, not 1" in exc.value.detail
    assert await _versions(code) == [1, 2]
    assert await _audited(code) == [f"{code}@1", f"{code}@2"]
    # From the current version the save goes through.
    assert (await _save(code, NAME, MODEL, expect_latest=2)).version == 3


async def test_new_template_under_a_taken_code_is_a_conflict(client, tenant_a):
    from core.errors import Conflict

    code = _code()
    await _save(code, tenant=tenant_a.id, body={"extends": "core@1"}, expect_latest=0)
    with pytest.raises(Conflict) as exc:
        await _save(code, tenant=tenant_a.id, body={"extends": "core@1"}, expect_latest=0)
    assert f"template {code!r} already exists" in exc.value.detail
    assert await _versions(code, tenant_a.id) == [1]


async def test_concurrent_saves_of_one_version_end_in_one_success_and_one_conflict(client):
    from core.errors import Conflict
    from tenants.templates.services.templates import Template

    code = _code()
    await _save(code, expect_latest=0)
    for expected in (1, 2, 3):
        results = await asyncio.gather(
            _save(code, NAME, body={"name": "left"}, expect_latest=expected),
            _save(code, NAME, body={"name": "right"}, expect_latest=expected),
            return_exceptions=True,
        )
        won = [r for r in results if isinstance(r, Template)]
        lost = [r for r in results if not isinstance(r, Template)]
        assert len(won) == 1 and won[0].version == expected + 1, results
        assert len(lost) == 1 and isinstance(lost[0], Conflict), results
        assert lost[0].http_status == 409
    assert await _versions(code) == [1, 2, 3, 4]
    assert len(await _audited(code)) == 4  # the loser's audit row went with its rollback


async def test_a_save_that_read_a_stale_latest_version_gets_a_conflict(client, monkeypatch):
    """The race the gather above may or may not hit on a given run, forced: the loser
    read version 1 as latest while the winner wrote version 2, so its insert collides
    with the unique key (owner, code, version) — on both profiles."""
    from core.errors import Conflict
    from tenants.templates.services import templates

    code = _code()
    await _save(code, expect_latest=0)
    stale = await templates._rows(0, code, None)
    await _save(code, NAME, MODEL, expect_latest=1)

    async def _rows(owner: int, c: str, version: int | None) -> Any:
        return stale if c == code else await real(owner, c, version)

    real = templates._rows
    monkeypatch.setattr(templates, "_rows", _rows)
    with pytest.raises(Conflict) as exc:
        await _save(code, NAME, MODEL)  # no expect_latest: only the unique key stops it
    assert "saved at the same moment" in exc.value.detail
    monkeypatch.undo()
    assert await _versions(code) == [1, 2]
    assert [i.index for i in (await templates.versions(None, code))[-1].items] == [2000, 2001]


async def test_concurrent_snms_template_saves_never_answer_an_internal_error(client, tenant_a):
    auth = await snms_login(client, tenant_a.prefix)
    code = _code("snms")
    body = {"code": code, "extends": "core@1", "items": []}
    rs = await asyncio.gather(
        *(client.post("/snms/api/v5/template", json=body, headers=auth) for _ in range(4))
    )
    statuses = [r.json()["status"] for r in rs]
    assert all(r.status_code == 200 for r in rs)
    # SNMS saves carry no expected version: a racer either writes the next version or,
    # when it lost the version number on the unique key, is told to retry (-2).
    assert set(statuses) <= {1, -2} and 1 in statuses, [r.text for r in rs]
    for r in rs:
        if r.json()["status"] == -2:
            assert "saved at the same moment" in r.json()["message"]
    written = sorted(
        int(r.json()["data"]["version"].split("@")[1]) for r in rs if r.json()["status"] == 1
    )
    assert written == list(range(1, len(written) + 1))
    assert await _versions(code, tenant_a.id) == written


# --- a tenant cannot take a node template's code ------------------------------------


async def test_tenant_cannot_create_a_template_under_a_node_templates_code(client, tenant_a):
    from core.errors import InvalidValue
    from tenants.templates.services import templates

    node_code = _code("node")
    await _save(node_code, NAME, MODEL, expect_latest=0)
    for code, extra in (("core", {}), ("boiler", {"extends": "boiler@1"}), (node_code, {})):
        with pytest.raises(InvalidValue) as exc:
            await _save(code, {**MODEL, "idIndex": 2100}, tenant=tenant_a.id, body=extra)
        assert exc.value.field == "code" and "is a node template" in exc.value.detail
        assert await _versions(code, tenant_a.id) == []
        assert (await templates.get_template(tenant_a.id, code)).tenant_id is None


async def test_snms_refuses_a_node_templates_code_with_a_business_error(client, tenant_a):
    from tenants.templates.services import templates

    auth = await snms_login(client, tenant_a.prefix)
    item = {"name": "扬程", "idType": "head", "idIndex": 2100, "metadata": {"type": "number"}}
    for method in (client.post, client.put):
        r = await method(
            "/snms/api/v5/template",
            json={"code": "boiler", "extends": "boiler@1", "items": [item]},
            headers=auth,
        )
        # The SNMS envelope: HTTP 200, status -2 (business error), the reason in message.
        assert r.status_code == 200
        assert r.json()["status"] == -2 and r.json()["data"] is None, r.text
        assert "'boiler' is a node template" in r.json()["message"]
    assert (await templates.get_template(tenant_a.id, "boiler")).tenant_id is None
    # The tenant's records that declare the node's boiler@1 still mean the node's one.
    rec = [
        sv(1001, "templateVersion", "boiler@1"),
        sv(2000, "name", "Steam boiler"),
        sv(2001, "model", "WNS4"),
    ]
    assert (await put_values(client, tenant_a, f"{tenant_a.prefix}/BOIL-1", rec)).status_code == 201
    # Under a code of its own the same extension is fine.
    r = await client.post(
        "/snms/api/v5/template",
        json={"code": _code("myboiler"), "extends": "boiler@1", "items": [item]},
        headers=auth,
    )
    assert r.json()["status"] == 1, r.text


async def test_a_tenants_own_code_is_not_refused_for_later_versions(client, tenant_a):
    code = _code("own")
    await _save(code, tenant=tenant_a.id, body={"extends": "core@1"})
    later = {"extends": "core@1"}
    saved = await _save(code, {**MODEL, "idIndex": 2100}, tenant=tenant_a.id, body=later)
    assert saved.version == 2 and saved.tenant_id == tenant_a.id


# --- industry levels (GB/T 4754-2017) ------------------------------------------------


def test_industry_levels_of_the_right_shape_pass():
    from tenants.templates.services.industry import check_industry

    assert check_industry(LEVELS) == ("C", "34", "341", "3411")
    assert check_industry({**LEVELS, "industrySubclass": ""}) == ("C", "34", "341", "")
    assert check_industry({"industryCategory": "C", "industrySpecific": "34"}) == (
        "C",
        "34",
        "",
        "",
    )
    assert check_industry({}) == ("", "", "", "")
    assert check_industry({**LEVELS, "industryTrade": " 341 "})[2] == "341"


@pytest.mark.parametrize(
    ("over", "field", "message"),
    [
        ({"industryTrade": "34", "industrySubclass": ""}, "industryTrade", "must be 3 digits"),
        ({"industryTrade": "3411", "industrySubclass": ""}, "industryTrade", "must be 3 digits"),
        ({"industryTrade": "34a"}, "industryTrade", "must be 3 digits"),
        ({"industryTrade": "３４１"}, "industryTrade", "must be 3 digits"),  # full-width
        ({"industryTrade": "351", "industrySubclass": ""}, "industryTrade", "is not under 34"),
        ({"industrySubclass": "341"}, "industrySubclass", "must be 4 digits"),
        ({"industrySubclass": "34111"}, "industrySubclass", "must be 4 digits"),
        ({"industrySubclass": "3421"}, "industrySubclass", "is not under 341"),
        ({"industryTrade": "", "industrySubclass": "3411"}, "industrySubclass", "4 digits"),
        (
            {"industrySpecific": "", "industryTrade": "341", "industrySubclass": ""},
            "industryTrade",
            "under a 2-digit level",
        ),
        ({"industryCategory": "A"}, "industrySpecific", "not a GB/T 4754-2017"),
        ({"industryCategory": "c"}, "industryCategory", "not a GB/T 4754-2017 section"),
    ],
)
def test_industry_levels_of_the_wrong_shape_are_named(over, field, message):
    from core.errors import InvalidValue
    from tenants.templates.services.industry import check_industry

    with pytest.raises(InvalidValue) as exc:
        check_industry({**LEVELS, **over})
    assert exc.value.field == field and message in exc.value.detail


async def test_save_refuses_bad_levels_and_writes_nothing(client, tenant_a):
    from core.errors import InvalidValue

    code = _code("ind")
    with pytest.raises(InvalidValue) as exc:
        await _save(code, body={**LEVELS, "industryTrade": "3412"})
    assert exc.value.field == "industryTrade"
    assert await _versions(code) == []
    saved = await _save(code, body=LEVELS, expect_latest=0)
    assert saved.industry == ("C", "34", "341", "3411")
    # A tenant's extension inherits the base's levels; what it restates is checked
    # against them.
    own = _code("ext")
    ext = await _save(
        own, {**MODEL, "idIndex": 2100}, tenant=tenant_a.id, body={"extends": saved.ref}
    )
    assert ext.industry == saved.industry
    with pytest.raises(InvalidValue) as exc:
        await _save(
            _code("ext"),
            {**MODEL, "idIndex": 2100},
            tenant=tenant_a.id,
            body={"extends": saved.ref, "industrySubclass": "3499"},
        )
    assert exc.value.field == "industrySubclass" and "is not under 341" in exc.value.detail
