"""The staff search page (/staff/search): one tenant or all, audited, named errors.

Both test tenants get records under the same suffixes, so a result from the wrong
tenant could not hide behind a different name.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from node_support import as_node
from portal_support import Web, add_member, form_fields, staff_login

pytestmark = pytest.mark.anyio

SEARCH = "/staff/search"


def sv(index: int, vtype: str, value: str, permissions: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"index": index, "type": vtype, "data": value}
    if permissions:
        out["permissions"] = permissions
    return out


async def _records(client: Any, t: Any) -> None:
    for suffix, values in (
        (
            "PUMP-001",
            [sv(1, "URL", f"https://{t.prefix}.example/p1"), sv(2, "NOTE", "lot-77", "1100")],
        ),
        ("PUMP-002", [sv(1, "URL", f"https://{t.prefix}.example/p2")]),
        ("VALVE-9", [sv(1, "EMAIL", "valves@example.com")]),
    ):
        r = await client.put(
            f"/api/handles/{t.prefix}/{suffix}", json={"values": values}, headers=t.auth()
        )
        assert r.status_code == 201, r.text


FIELDS = [
    "tenant",
    "q",
    "value",
    "type",
    "attr_type",
    "attr_text",
    "template",
    "created_from",
    "created_to",
    "updated_from",
    "updated_to",
]


def _form(**over: str) -> dict[str, str]:
    """Every field of the search form, as a browser sends it (empty ones too)."""
    return {"scope": "one", **dict.fromkeys(FIELDS, ""), **over}


async def _search(web: Web, **over: str) -> Any:
    return await web.post(SEARCH, _form(**over), form_page=SEARCH)


def _results(page: str) -> list[tuple[str, str]]:
    """(tenant prefix, identifier) per row of the results table, as shown."""
    table = page.split('id="results"')[1].split("</table>")[0]
    return re.findall(
        r'<td><a href="/staff/tenants/[^"]*">([^<]*)</a></td><td[^>]*><a[^>]*>([^<]*)</a>', table
    )


def _text_of(page: str, element_id: str) -> str:
    return html.unescape(page.split(f'id="{element_id}"')[1].split("</p>")[0])


async def _staff_rows(actor_email: str) -> list[dict[str, Any]]:
    from core.tables import AuditLog
    from tenants.accounts.tables import User

    uid = (await User.select(User.id).where(User.email == actor_email).first().run())["id"]
    async with as_node():
        return (
            await AuditLog.select()
            .where((AuditLog.action == "search.staff") & (AuditLog.actor == f"staff:{uid}"))
            .order_by(AuditLog.id)
            .run()
        )


async def test_searching_one_tenant_shows_only_its_records_and_is_audited(
    web: Web, client, tenant_a, tenant_b
):
    await _records(client, tenant_a)
    await _records(client, tenant_b)
    me = await staff_login(web, "operator")
    form = await web.get(SEARCH)
    assert form.status_code == 200 and 'id="search-form"' in form.text
    assert await _staff_rows(me) == []  # opening the page searches nothing

    r = await _search(web, tenant=tenant_a.prefix, q="pump")
    assert r.status_code == 200, r.text
    assert _results(r.text) == [
        (tenant_a.prefix, f"{tenant_a.prefix}/PUMP-001"),
        (tenant_a.prefix, f"{tenant_a.prefix}/PUMP-002"),
    ]
    assert tenant_b.prefix not in r.text.split('id="results"')[1].split("</table>")[0]
    # Staff see restricted values, marked as such.
    assert "lot-77 <small>(受限)</small>" in r.text
    # A value only tenant B has is not found while A is selected.
    r = await _search(web, tenant=tenant_a.prefix, value=f"{tenant_b.prefix}.example")
    assert _results(r.text) == [] and "没有找到匹配的标识。" in r.text

    rows = await _staff_rows(me)
    assert [(row["tenant_id"], row["target"]) for row in rows] == [
        (tenant_a.id, str(tenant_a.id)),
        (tenant_a.id, str(tenant_a.id)),
    ]
    # The page lists the searches: who, which tenant, what.
    recent = r.text.split('id="recent-searches"')[1].split("</table>")[0]
    assert me in recent and f">{tenant_a.prefix}</a>" in recent
    assert "标识包含: pump" in recent and f"值包含: {tenant_b.prefix}.example" in recent


async def test_searching_all_tenants_links_each_hit(web: Web, client, tenant_a, tenant_b):
    await _records(client, tenant_a)
    await _records(client, tenant_b)
    me = await staff_login(web, "reviewer")
    r = await _search(web, scope="all", tenant="ignored", q="valve-9", type="EMAIL")
    assert r.status_code == 200, r.text
    found = _results(r.text)
    assert (tenant_a.prefix, f"{tenant_a.prefix}/VALVE-9") in found
    assert (tenant_b.prefix, f"{tenant_b.prefix}/VALVE-9") in found
    # The identifier opens the public resolver view; the prefix the staff tenant page.
    link = f'href="/{tenant_b.prefix}/VALVE-9?noredirect"'
    assert link in r.text
    record = await web.get(f"/{tenant_b.prefix}/VALVE-9?noredirect")
    assert record.status_code == 200 and "valves@example.com" in record.text
    assert (await web.get(f"/staff/tenants/{tenant_b.prefix}")).status_code == 200
    row = (await _staff_rows(me))[-1]
    assert row["tenant_id"] is None and row["target"] == "*"
    recent = r.text.split('id="recent-searches"')[1].split("</table>")[0]
    assert "全部企业节点" in recent and "值类型: EMAIL" in recent


async def test_time_ranges_are_whole_utc_days(web: Web, client, tenant_a):
    await _records(client, tenant_a)
    await staff_login(web, "operator")
    today = datetime.now(UTC).date()
    yesterday = (today - timedelta(days=1)).isoformat()
    r = await _search(
        web, tenant=tenant_a.prefix, created_from=yesterday, created_to=today.isoformat()
    )
    assert len(_results(r.text)) == 3
    r = await _search(web, tenant=tenant_a.prefix, updated_to=yesterday)
    assert _results(r.text) == []


async def test_next_page_continues_where_the_last_one_ended(
    web: Web, client, tenant_a, tenant_b, monkeypatch
):
    from portal.web import search_staff

    monkeypatch.setattr(search_staff, "PAGE", 2)
    await _records(client, tenant_a)
    await _records(client, tenant_b)
    me = await staff_login(web, "operator")
    r = await _search(web, tenant=tenant_a.prefix)  # a whole tenant, no criteria
    seen = _results(r.text)
    assert len(seen) == 2
    fields = form_fields(r.text, "next-form")
    assert fields["tenant"] == tenant_a.prefix and fields["cursor"]
    r = await web.post(
        SEARCH, {k: v for k, v in fields.items() if k != "_csrf_token"}, form_page=SEARCH
    )
    assert r.status_code == 200 and "后续页" in r.text
    seen += _results(r.text)
    assert sorted(h for _p, h in seen) == [
        f"{tenant_a.prefix}/{s}" for s in ("PUMP-001", "PUMP-002", "VALVE-9")
    ]
    assert 'id="next-form"' not in r.text
    assert len(await _staff_rows(me)) == 2  # each page is an access of its own


@pytest.mark.parametrize(
    ("over", "where", "message"),
    [
        (
            {"created_from": "2026-13-01"},
            "e-created_from",
            "不是有效日期，请按 2026-01-31 的格式填写。",
        ),
        ({"updated_to": "yesterday"}, "e-updated_to", "不是有效日期"),
        (
            {"created_from": "2026-03-02", "created_to": "2026-03-01"},
            "e-created_to",
            "结束日期早于开始日期。",
        ),
        ({"tenant": "88.100.999999"}, "e-tenant", "没有使用此前缀的企业节点。"),
        ({"tenant": ""}, "e-tenant", "请填写企业节点前缀，或选择全部企业节点。"),
        ({"attr_text": "YE3"}, "e-attr_type", "请填写要查找的属性（其值类型）。"),
        ({"q": "x" * 1025}, "e-q", "最多 1024 个字符。"),
        ({"cursor": "not-a-cursor"}, "form-error", "此翻页链接已失效，请从第一页重新搜索。"),
        (
            {"scope": "all", "tenant": "", "q": ""},
            "form-error",
            "搜索全部企业节点时至少需要一个条件。",
        ),
    ],
)
async def test_bad_input_is_named_and_searches_nothing(web: Web, tenant_a, over, where, message):
    me = await staff_login(web, "operator")
    form = {"tenant": tenant_a.prefix, "q": "pump", **over}
    r = await _search(web, **form)
    assert r.status_code == 400, r.text
    assert message in _text_of(r.text, where)
    assert 'id="results"' not in r.text
    # What was typed stays in the form.
    shown = form_fields(r.text, "search-form")
    assert {k: shown[k] for k in form if k != "cursor"} == {
        k: v for k, v in form.items() if k != "cursor"
    }
    assert await _staff_rows(me) == []


async def test_who_may_search(web: Web, web2: Web, client, tenant_a):
    await _records(client, tenant_a)
    # Not logged in: to the login page.
    r = await web.get(SEARCH)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    # Finance works with invoices, not records: the console's 404.
    await staff_login(web, "finance")
    assert (await web.get(SEARCH)).status_code == 404
    r = await web.post(SEARCH, _form(tenant=tenant_a.prefix, q="pump"), form_page="/staff")
    assert r.status_code == 404 and "PUMP-001" not in r.text
    # A tenant's own owner is no staff member, not even for its own tenant.
    owner = await add_member(tenant_a.id, "owner")
    assert (await web2.login(owner)).status_code == 303
    assert (await web2.get(SEARCH)).status_code == 404
    r = await web2.post(
        SEARCH, _form(scope="all", q="pump"), form_page=f"/console/{tenant_a.prefix}"
    )
    assert r.status_code == 404 and "PUMP-001" not in r.text
    assert "/staff/search" not in (await web2.get(f"/console/{tenant_a.prefix}")).text


async def test_admins_search_too_and_a_post_needs_the_csrf_token(web: Web, client, tenant_a):
    from core.tables import AuditLog

    await _records(client, tenant_a)
    await staff_login(web, "admin")
    async with as_node():
        before = await AuditLog.count().where(AuditLog.action == "search.staff").run()
    r = await web.c.post(SEARCH, data=_form(tenant=tenant_a.prefix, q="pump"))
    assert r.status_code == 403
    async with as_node():
        assert await AuditLog.count().where(AuditLog.action == "search.staff").run() == before
    r = await _search(web, tenant=tenant_a.prefix, q="pump")
    assert r.status_code == 200 and len(_results(r.text)) == 2


async def test_tenant_page_links_the_search_and_lists_that_tenants_searches(
    web: Web, web2: Web, client, tenant_a, tenant_b
):
    await _records(client, tenant_a)
    me = await staff_login(web, "reviewer")
    page_a = await web.get(f"/staff/tenants/{tenant_a.prefix}")
    link = f'href="/staff/search?tenant={tenant_a.prefix}"'
    assert link in page_a.text
    prefilled = await web.get(f"{SEARCH}?tenant={tenant_a.prefix}")
    assert form_fields(prefilled.text, "search-form")["tenant"] == tenant_a.prefix
    assert await _staff_rows(me) == []
    await _search(web, tenant=tenant_a.prefix, template="boiler")
    await _search(web, scope="all", q="pump")
    searches_a = (await web.get(f"/staff/tenants/{tenant_a.prefix}")).text
    searches_a = searches_a.split('id="tenant-searches"')[1].split("</table>")[0]
    assert me in searches_a and "模板代码: boiler" in searches_a
    assert "标识包含: pump" not in searches_a  # the all-tenant one is on the search page
    page_b = (await web.get(f"/staff/tenants/{tenant_b.prefix}")).text
    assert me not in page_b.split('id="tenant-searches"')[1].split("</table>")[0]
    # Finance reads tenant pages but neither searches nor sees who searched.
    await staff_login(web2, "finance")
    fin = await web2.get(f"/staff/tenants/{tenant_a.prefix}")
    assert fin.status_code == 200
    assert 'id="search-tenant"' not in fin.text and 'id="tenant-searches"' not in fin.text


async def test_the_page_speaks_english_on_request(web: Web, client, tenant_a):
    await _records(client, tenant_a)
    await staff_login(web, "operator")
    r = await web.get(f"{SEARCH}?lang=en")
    assert "<h1>Search identifiers</h1>" in r.text and "All tenants" in r.text
    r = await _search(web, tenant=tenant_a.prefix, created_from="31/01/2026")
    assert "Not a date; use the form 2026-01-31." in _text_of(r.text, "e-created_from")
