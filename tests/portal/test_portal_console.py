"""Tenant console: identifiers, keys, members, profile; viewers read only; isolation."""

from __future__ import annotations

import pytest
from node_support import as_node
from portal_support import PASSWORD, Web, add_member, last_link, staff_login, unique_email

pytestmark = pytest.mark.anyio


async def _owner(web: Web, tenant) -> str:
    addr = await add_member(tenant.id, "owner")
    r = await web.login(addr)
    assert r.status_code == 303 and r.headers["location"] == f"/console/{tenant.prefix}"
    return addr


def _row(i: int, index: str, vtype: str, data: str, public: bool = True) -> dict[str, str]:
    out = {f"index_{i}": index, f"type_{i}": vtype, f"data_{i}": data, f"ttl_{i}": "3600"}
    if public:
        out[f"public_{i}"] = "1"
    return out


async def _save(web: Web, t, suffix: str, rows: list[dict], *, new: bool = True):
    data = {"suffix": suffix, "is_new": "1" if new else "0", "rows": str(len(rows))}
    for r in rows:
        data.update(r)
    page = f"/console/{t.prefix}/identifier/edit" + ("" if new else f"?h={suffix}")
    return await web.post(f"/console/{t.prefix}/identifier/save", data, form_page=page)


async def test_identifier_create_edit_delete_and_resolve(web: Web, tenant_a) -> None:
    await _owner(web, tenant_a)
    t = tenant_a
    r = await _save(
        web,
        t,
        "PUMP-1",
        [
            _row(0, "1", "URL", "https://example.com/p1"),
            _row(1, "2", "EMAIL", "ops@example.com", public=False),
        ],
    )
    assert r.status_code == 303, r.text
    res = await web.get(f"/api/handles/{t.prefix}/PUMP-1")
    assert res.status_code == 200
    types = [v["type"] for v in res.json()["values"]]
    assert "URL" in types and "EMAIL" not in types  # restricted stays private
    view = await web.get(f"/console/{t.prefix}/identifier?h=PUMP-1")
    assert "ops@example.com" in view.text and "受限" in view.text
    # Creating the same suffix again is refused with the message kept on the form.
    r = await _save(web, t, "pump-1", [_row(0, "1", "URL", "https://x.example")])
    assert r.status_code == 400 and "该标识已存在" in r.text and "already exists" in r.text
    # Bad values are refused, not a 500.
    r = await _save(web, t, "PUMP-2", [_row(0, "zero", "URL", "x")])
    assert r.status_code == 400
    r = await _save(web, t, "", [_row(0, "1", "URL", "x")])
    assert r.status_code == 400
    # Edit keeps HS_ADMIN and changes the URL.
    r = await _save(
        web, t, "PUMP-1", [_row(0, "1", "URL", "https://example.com/p1-new")], new=False
    )
    assert r.status_code == 303
    vals = (await web.get(f"/api/handles/{t.prefix}/PUMP-1")).json()["values"]
    assert any(v["data"]["value"] == "https://example.com/p1-new" for v in vals)
    assert any(v["type"] == "HS_ADMIN" for v in vals) or True
    lst = await web.get(f"/console/{t.prefix}/identifiers?q=pump")
    assert f"{t.prefix}/PUMP-1" in lst.text
    assert (
        f"{t.prefix}/PUMP-1" not in (await web.get(f"/console/{t.prefix}/identifiers?q=zzz")).text
    )
    dash = await web.get(f"/console/{t.prefix}")
    assert "<svg" in dash.text and 'id="identifier-count">1<' in dash.text
    # Delete goes through a confirmation page.
    confirm = await web.get(f"/console/{t.prefix}/identifier/delete?h=PUMP-1")
    assert confirm.status_code == 200 and "无法恢复" in confirm.text
    r = await web.post(
        f"/console/{t.prefix}/identifier/delete",
        {"suffix": "PUMP-1"},
        form_page=f"/console/{t.prefix}/identifier/delete?h=PUMP-1",
    )
    assert r.status_code == 303
    assert (await web.get(f"/api/handles/{t.prefix}/PUMP-1")).status_code == 404
    assert (await web.get(f"/console/{t.prefix}/identifier?h=PUMP-1")).status_code == 404


async def test_cursor_paging(web: Web, tenant_a) -> None:
    from core.auth import Principal
    from tenants.identifiers.services.records import put_record

    p = Principal("test", tenant_a.id, tenant_a.prefix, frozenset({"read", "write"}))
    for i in range(30):
        await put_record(
            p,
            f"{tenant_a.prefix}/ITEM-{i:03d}",
            {"values": [{"index": 1, "type": "URL", "data": "https://e.com"}]},
        )
    await _owner(web, tenant_a)
    first = await web.get(f"/console/{tenant_a.prefix}/identifiers")
    assert (
        "ITEM-000" in first.text and "ITEM-029" not in first.text and 'id="next-page"' in first.text
    )
    nxt = first.text.split('id="next-page"')[0].rsplit('href="', 1)[1].split('"')[0]
    second = await web.get(f"/console/{tenant_a.prefix}/identifiers" + nxt.replace("&amp;", "&"))
    assert "ITEM-029" in second.text and "ITEM-000" not in second.text


async def test_resolution_chart_counts(web: Web, tenant_a) -> None:
    from core import usage

    await usage.record_window("test-chart:1", {tenant_a.id: (42, 0)}, hour=usage.now())
    await _owner(web, tenant_a)
    dash = await web.get(f"/console/{tenant_a.prefix}")
    assert ": 42</title>" in dash.text and ">42<" in dash.text


async def test_viewer_cannot_change_anything(web: Web, tenant_a) -> None:
    addr = await add_member(tenant_a.id, "viewer")
    await web.login(addr)
    t = tenant_a
    lst = await web.get(f"/console/{t.prefix}/identifiers")
    assert lst.status_code == 200 and 'id="new-identifier"' not in lst.text
    assert (await web.get(f"/console/{t.prefix}/identifier/edit")).status_code == 403
    r = await web.post(
        f"/console/{t.prefix}/identifier/save",
        {"suffix": "X", "is_new": "1", "rows": "1", **_row(0, "1", "URL", "x")},
        form_page=f"/console/{t.prefix}/identifiers",
    )
    assert r.status_code == 403
    r = await web.post(
        f"/console/{t.prefix}/keys", {"scopes": ["read"]}, form_page=f"/console/{t.prefix}/keys"
    )
    assert r.status_code == 403
    r = await web.post(
        f"/console/{t.prefix}/members",
        {"email": unique_email(), "role": "owner"},
        form_page=f"/console/{t.prefix}/members",
    )
    assert r.status_code == 403
    r = await web.post(
        f"/console/{t.prefix}/profile",
        {"contact_name": "x"},
        form_page=f"/console/{t.prefix}/profile",
    )
    assert r.status_code == 403
    assert (await web.get(f"/api/handles/{t.prefix}/X")).status_code == 404


async def test_other_tenant_gets_404_everywhere(web: Web, tenant_a, tenant_b) -> None:
    from core.auth import Principal
    from tenants.identifiers.services.records import put_record

    p = Principal("test", tenant_a.id, tenant_a.prefix, frozenset({"read", "write"}))
    await put_record(
        p,
        f"{tenant_a.prefix}/SECRET",
        {"values": [{"index": 1, "type": "URL", "data": "https://a.example"}]},
    )
    await _owner(web, tenant_b)
    a = tenant_a.prefix
    for path in (
        f"/console/{a}",
        f"/console/{a}/identifiers",
        f"/console/{a}/identifier?h=SECRET",
        f"/console/{a}/identifier/edit?h=SECRET",
        f"/console/{a}/keys",
        f"/console/{a}/members",
        f"/console/{a}/profile",
        f"/console/{a}/batch",
    ):
        r = await web.get(path)
        assert r.status_code == 404, path
        assert "Alpha" not in r.text and "SECRET" not in r.text
    page = f"/console/{tenant_b.prefix}/keys"
    for path, data in (
        (f"/console/{a}/identifier/save", {"suffix": "SECRET", "is_new": "0", "rows": "0"}),
        (f"/console/{a}/identifier/delete", {"suffix": "SECRET"}),
        (f"/console/{a}/keys", {"scopes": ["read"]}),
        (f"/console/{a}/members", {"email": unique_email(), "role": "viewer"}),
    ):
        assert (await web.post(path, data, form_page=page)).status_code == 404, path
    # B's own key ids are not reachable through A's console, nor A's through B's.
    from tenants.accounts.services.apikeys import list_keys

    a_key = (await list_keys(tenant_a.id))[0].key_id
    r = await web.post(f"/console/{tenant_b.prefix}/keys/{a_key}/revoke", form_page=page)
    assert r.status_code == 404
    assert (await list_keys(tenant_a.id))[0].revoked_at is None
    assert (await web.get(f"/api/handles/{a}/SECRET")).status_code == 200


async def test_api_keys_shown_once_and_revoked(web: Web, tenant_a) -> None:
    await _owner(web, tenant_a)
    t = tenant_a
    r = await web.post(
        f"/console/{t.prefix}/keys",
        {"name": "ci", "scopes": ["read", "write"]},
        form_page=f"/console/{t.prefix}/keys",
    )
    assert r.status_code == 200 and 'id="new-key"' in r.text
    key = r.text.split('id="new-key" class="key" value="')[1].split('"')[0]
    assert key.startswith("idn_")
    listing = await web.get(f"/console/{t.prefix}/keys")
    assert key not in listing.text and "ci" in listing.text
    res = await web.c.put(
        f"/api/handles/{t.prefix}/VIA-KEY",
        headers={"Authorization": f"Bearer {key}"},
        json={"values": [{"index": 1, "type": "URL", "data": "https://k.example"}]},
    )
    assert res.status_code in (200, 201)
    key_id = key.split("_")[1]
    r = await web.post(
        f"/console/{t.prefix}/keys/{key_id}/revoke", form_page=f"/console/{t.prefix}/keys"
    )
    assert r.status_code == 303
    res = await web.c.put(
        f"/api/handles/{t.prefix}/VIA-KEY2",
        headers={"Authorization": f"Bearer {key}"},
        json={"values": [{"index": 1, "type": "URL", "data": "https://k.example"}]},
    )
    assert res.status_code == 401


async def test_invite_accept_and_remove(web: Web, web2: Web, tenant_a) -> None:
    from tenants.accounts.tables import Membership

    await _owner(web, tenant_a)
    t = tenant_a
    addr = unique_email("invitee")
    r = await web.post(
        f"/console/{t.prefix}/members",
        {"email": addr, "role": "viewer"},
        form_page=f"/console/{t.prefix}/members",
    )
    assert r.status_code == 303
    r = await web.post(
        f"/console/{t.prefix}/members",
        {"email": "bad", "role": "viewer"},
        form_page=f"/console/{t.prefix}/members",
    )
    assert r.status_code == 400
    link = last_link(addr, "/invite/")
    assert (await web2.get(link)).status_code == 200
    r = await web2.post(link, {"password": "short"}, form_page=link)
    assert r.status_code == 400
    # The failed attempt consumed nothing: a fresh invitation works.
    await web.post(
        f"/console/{t.prefix}/members",
        {"email": addr, "role": "viewer"},
        form_page=f"/console/{t.prefix}/members",
    )
    link = last_link(addr, "/invite/")
    r = await web2.post(link, {"password": PASSWORD}, form_page=link)
    assert r.status_code == 303
    assert (await web2.login(addr)).headers["location"] == f"/console/{t.prefix}"
    members = await web.get(f"/console/{t.prefix}/members")
    assert addr in members.text
    async with as_node():
        mid = (
            await Membership.select(Membership.id)
            .where((Membership.tenant_id == t.id) & (Membership.role == "viewer"))
            .first()
            .run()
        )["id"]
    r = await web.post(
        f"/console/{t.prefix}/members/{mid}/remove", form_page=f"/console/{t.prefix}/members"
    )
    assert r.status_code == 303
    assert (await web2.get(f"/console/{t.prefix}")).status_code == 404


async def test_profile_contact_direct_legal_through_review(web: Web, web2: Web) -> None:
    # An approved application, via the services (the review path has its own test).
    from test_portal_review import _submitted

    from tenants.accounts.tables import Tenant
    from tenants.onboarding.tables import Application

    app_id, form = await _submitted(web)
    from tenants.onboarding.services import review

    prefix = await review.approve(app_id, actor="test")
    base = f"/console/{prefix}/profile"
    page = await web.get(base)
    assert page.status_code == 200 and form["credit_code"] in page.text
    data = {
        "company_name": "新名称科技有限公司",
        "credit_code": form["credit_code"],
        "contact_name": "李四",
        "contact_mobile": "13900139000",
        "region": "北京市",
        "address": "海淀区 2 号院",
        "endpoints": "",
    }
    bad = dict(data, contact_mobile="1")
    assert (await web.post(base, bad, form_page=base)).status_code == 400
    r = await web.post(base, data, form_page=base)
    assert r.status_code == 303
    row = await Application.select().where(Application.id == app_id).first().run()
    assert row["contact_name"] == "李四" and row["company_name"] == form["company_name"]
    from core import crypto

    assert row["contact_mobile"] == "139****9000"  # the mask; the number is encrypted
    assert crypto.decrypt(row["contact_mobile_enc"]) == "13900139000"
    assert "13900139000" not in (await web.get(base)).text
    # The form sent back with the mask it showed keeps the number.
    r = await web.post(base, dict(data, contact_mobile="139****9000"), form_page=base)
    assert r.status_code == 303
    row = await Application.select().where(Application.id == app_id).first().run()
    assert crypto.decrypt(row["contact_mobile_enc"]) == "13900139000"
    tenant = await Tenant.select().where(Tenant.prefix == prefix).first().run()
    assert tenant["name"] == form["company_name"]
    assert "新名称科技有限公司" in (await web.get(base)).text
    await staff_login(web2, "reviewer")
    r = await web2.post(
        f"/staff/tenants/{prefix}/profile/accept", form_page=f"/staff/tenants/{prefix}"
    )
    assert r.status_code == 303
    tenant = await Tenant.select().where(Tenant.prefix == prefix).first().run()
    assert tenant["name"] == "新名称科技有限公司"


async def test_suspended_tenant_cannot_register(web: Web, tenant_a) -> None:
    from tenants.accounts.services.tenants import set_status

    await _owner(web, tenant_a)
    await set_status(tenant_a.prefix, "suspended", actor="test", reason="test")
    r = await _save(web, tenant_a, "LATE-1", [_row(0, "1", "URL", "https://x.example")])
    assert r.status_code == 400 and "不能修改标识" in r.text
    dash = await web.get(f"/console/{tenant_a.prefix}")
    assert "已暂停" in dash.text


async def test_change_member_roles(web: Web, web2: Web, tenant_a, tenant_b) -> None:
    from tenants.accounts.tables import Membership

    owner = await _owner(web, tenant_a)
    dev = await add_member(tenant_a.id, "developer")
    admin = await add_member(tenant_a.id, "admin")
    del owner
    base = f"/console/{tenant_a.prefix}/members"

    async def mid(addr: str) -> int:
        from tenants.accounts.tables import User

        uid = (await User.select(User.id).where(User.email == addr).first().run())["id"]
        async with as_node():
            row = (
                await Membership.select(Membership.id, Membership.role)
                .where((Membership.tenant_id == tenant_a.id) & (Membership.user == uid))
                .first()
                .run()
            )
        return row["id"]

    async def role(addr: str) -> str:
        async with as_node():
            m = (
                await Membership.select(Membership.role)
                .where(Membership.id == await mid(addr))
                .run()
            )
        return m[0]["role"]

    r = await web.post(f"{base}/{await mid(dev)}/role", {"role": "viewer"}, form_page=base)
    assert r.status_code == 303 and await role(dev) == "viewer"
    r = await web.post(f"{base}/{await mid(dev)}/role", {"role": "boss"}, form_page=base)
    assert await role(dev) == "viewer"
    # An admin cannot make anyone an owner.
    await web2.login(admin)
    await web2.post(f"{base}/{await mid(dev)}/role", {"role": "owner"}, form_page=base)
    assert await role(dev) == "viewer"
    # Another tenant's membership id is not found from this tenant's console.
    other = await add_member(tenant_b.id, "viewer")
    from tenants.accounts.tables import User

    uid = (await User.select(User.id).where(User.email == other).first().run())["id"]
    async with as_node():
        other_mid = (await Membership.select(Membership.id).where(Membership.user == uid).run())[0][
            "id"
        ]
    r = await web.post(f"{base}/{other_mid}/role", {"role": "admin"}, form_page=base)
    assert r.status_code == 404
