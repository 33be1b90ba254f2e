"""Metadata template (标识模板) pages: staff edit node templates, tenants extend them.

Each test makes templates under fresh codes: node templates are shared by every tenant
(and every test of a run), so the seeded ones are only read here, never changed.
"""

from __future__ import annotations

import html
import uuid
from typing import Any

import pytest
from node_support import as_node
from portal_support import Web, add_member, form_fields, staff_login

pytestmark = pytest.mark.anyio

STAFF = "/staff/templates"


def _code(tag: str = "t") -> str:
    return f"{tag}{uuid.uuid4().hex[:8]}"


def rows(*items: dict[str, Any]) -> dict[str, str]:
    """Item rows as the editor's form fields; keys as in the SNMS item JSON."""
    out = {"rows": str(len(items))}
    for i, it in enumerate(items):
        out |= {
            f"idindex_{i}": str(it.get("idIndex", "")),
            f"name_{i}": it.get("name", ""),
            f"idtype_{i}": it.get("idType", ""),
            f"type_{i}": it.get("type", "string"),
            f"state_{i}": str(it.get("state", 1)),
            f"min_{i}": str(it.get("min", "")),
            f"max_{i}": str(it.get("max", "")),
            f"enum_{i}": it.get("enum", ""),
        }
        if it.get("required"):
            out[f"required_{i}"] = "1"
    return out


NAME = {"idIndex": 2000, "name": "名称", "idType": "name", "required": True, "max": 255}
MODEL = {"idIndex": 2001, "name": "型号", "idType": "model", "required": True, "min": 1, "max": 64}


async def _new_node_template(web: Web, code: str, *items: dict[str, Any]) -> Any:
    form = {
        "code": code,
        "name": "测试模板",
        "kind": "industry",
        "type": "1",
        "industryCategory": "C",
        "industrySpecific": "34",
        "industryTrade": "341",
        "industrySubclass": "3411",
        **rows(*(items or (NAME, MODEL))),
    }
    return await web.post(f"{STAFF}/-/new", form, form_page=STAFF)


def sv(index: int, vtype: str, value: str) -> dict[str, Any]:
    return {"index": index, "type": vtype, "data": {"format": "string", "value": value}}


async def _put(client: Any, t: Any, suffix: str, values: list[dict[str, Any]]) -> Any:
    return await client.put(
        f"/api/handles/{t.prefix}/{suffix}", json={"values": values}, headers=t.auth()
    )


async def test_staff_writes_next_version_and_records_keep_theirs(web: Web, client, tenant_a):
    await staff_login(web, "operator")
    listing = await web.get(STAFF)
    assert listing.status_code == 200
    assert "<code>boiler</code>" in listing.text and "C / 34 / 341 / 3411" in listing.text
    code = _code()
    r = await _new_node_template(web, code)
    assert r.status_code == 303 and r.headers["location"] == f"{STAFF}/{code}?v=1", r.text

    v1_record = [sv(1001, "templateVersion", f"{code}@1"), sv(2000, "name", "锅炉")]
    v1_record.append(sv(2001, "model", "WNS4"))
    assert (await _put(client, tenant_a, "T-1", v1_record)).status_code == 201

    # The editor comes prefilled with version 1; disable 型号 and add a required 批次.
    edit = await web.get(f"{STAFF}/{code}/edit")
    assert edit.status_code == 200 and 'value="型号"' in edit.text
    form = form_fields(edit.text, "template-form")
    assert form["expect"] == "1" and form["industrySubclass"] == "3411"
    row = next(k[len("name_") :] for k, v in form.items() if k.startswith("name_") and v == "型号")
    blank = next(k[len("name_") :] for k, v in form.items() if k.startswith("name_") and not v)
    form |= {f"state_{row}": "0", f"name_{blank}": "批次", f"idtype_{blank}": "batch"}
    form |= {f"idindex_{blank}": "2002", f"required_{blank}": "1", "name": "测试模板二"}
    form["max_0"] = "128"  # 名称, the first row
    r = await web.post(f"{STAFF}/{code}/edit", form, form_page=STAFF)
    assert r.status_code == 303 and r.headers["location"] == f"{STAFF}/{code}?v=2", r.text

    page = await web.get(f"{STAFF}/{code}?v=2")
    assert "新版本已保存" in page.text
    changes = page.text.split('id="changes"')[1].split("</section>")[0]
    assert "新增: 批次 (2002)" in changes and "停用: 型号 (2001)" in changes
    assert "修改: 模板名称" in changes and "修改: 名称 (2000) — 最大长度" in changes
    assert "批次" not in (await web.get(f"{STAFF}/{code}?v=1")).text
    assert (await web.get(f"{STAFF}/{code}?v=3")).status_code == 404
    assert (await web.get(f"{STAFF}/{code}?v=x")).status_code == 404

    # A record on version 1 still validates against version 1 (no 批次 needed) ...
    v1_record[2] = sv(2001, "model", "WNS6")
    assert (await _put(client, tenant_a, "T-1", v1_record)).status_code == 200
    # ... while version 2 requires 批次 and no longer requires 型号.
    v2_record = [sv(1001, "templateVersion", f"{code}@2"), sv(2000, "name", "锅炉")]
    r = await _put(client, tenant_a, "T-2", v2_record)
    assert r.status_code == 400 and "批次" in r.json()["detail"]
    v2_record.append(sv(2002, "batch", "B-7"))
    assert (await _put(client, tenant_a, "T-2", v2_record)).status_code == 201

    from core.tables import AuditLog

    async with as_node():
        audit = await AuditLog.select().where(AuditLog.target == f"{code}@2").first().run()
    assert audit["action"] == "template.version" and audit["actor"].startswith("staff:")


async def test_removing_an_item_is_refused_in_the_form(web: Web):
    await staff_login(web, "admin")
    code = _code()
    assert (await _new_node_template(web, code)).status_code == 303
    edit = await web.get(f"{STAFF}/{code}/edit")
    form = form_fields(edit.text, "template-form")
    row = next(k[len("name_") :] for k, v in form.items() if k.startswith("name_") and v == "型号")
    for field in ("name", "idtype", "idindex", "min", "max", "enum"):
        form[f"{field}_{row}"] = ""  # the user empties the row: the only way to "delete"
    form["name"] = "改过的名字"
    r = await web.post(f"{STAFF}/{code}/edit", form, form_page=STAFF)
    assert r.status_code == 400
    summary = html.unescape(r.text.split('id="form-error"')[1].split("</p>")[0])
    assert "'型号' (idIndex 2001) cannot be deleted" in summary and "state to 0" in summary
    assert 'value="改过的名字"' in r.text and 'value="名称"' in r.text  # input kept
    versions = (await web.get(f"{STAFF}/{code}")).text.split('id="history"')[1]
    assert f"{code}@1" in versions and f"{code}@2" not in versions


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({**NAME, "idIndex": 1999}, "idIndex must be an integer &gt;= 2000, got 1999"),
        ({**NAME, "idIndex": "abc"}, "idIndex must be an integer &gt;= 2000, got &#39;abc&#39;"),
        ({**NAME, "type": "colour"}, "metadata.type must be one of"),
        ({**NAME, "min": 9, "max": 3}, "minLength is greater than maxLength"),
        ({**NAME, "min": "lots"}, "minLength must be a non-negative integer"),
        ({**NAME, "type": "enum"}, "an enum item needs metadata.enum"),
        ({**MODEL, "idIndex": 2000}, "idIndex 2000 is also &#39;名称&#39;"),
    ],
)
async def test_bad_items_are_named_next_to_the_row(web: Web, item, message):
    await staff_login(web, "operator")
    code = _code()
    first = NAME if item.get("name") != NAME["name"] else MODEL
    r = await _new_node_template(web, code, first, item)
    assert r.status_code == 400, r.text
    assert message in r.text.split('id="form-error"')[1].split("</p>")[0]
    assert message in r.text.split('id="e-row-1"')[1].split("</p>")[0]
    assert f'value="{code}"' in r.text
    assert (await web.get(f"{STAFF}/{code}")).status_code == 404  # nothing written


@pytest.mark.parametrize(
    ("over", "field", "message"),
    [
        ({"code": "9lives"}, "code", "must be a letter"),
        ({"industryCategory": "Z", "industrySpecific": ""}, "industryCategory", "not a GB/T"),
        ({"industrySpecific": "99"}, "industrySpecific", "not a GB/T"),
        ({"industryTrade": "3419999999"}, "industryTrade", "must be 3 digits"),
        ({"type": "7"}, "type", "carrier type"),
        ({"kind": "tenant"}, "kind", "kind must be one of"),
    ],
)
async def test_bad_header_fields_are_named(web: Web, over, field, message):
    await staff_login(web, "operator")
    form = {
        "code": _code(),
        "name": "x",
        "kind": "industry",
        "type": "2",
        "industryCategory": "C",
        "industrySpecific": "34",
        **rows(NAME),
        **over,
    }
    r = await web.post(f"{STAFF}/-/new", form, form_page=STAFF)
    assert r.status_code == 400 and message in r.text, r.text
    assert f'id="e-{field}"' in r.text


async def test_add_row_keeps_the_input_and_saves_nothing(web: Web):
    await staff_login(web, "operator")
    code = _code()
    form = {"code": code, "name": "n", "kind": "core", "type": "2", **rows(NAME)}
    r = await web.post(f"{STAFF}/-/new", {**form, "action": "add_row"}, form_page=STAFF)
    assert r.status_code == 200
    shown = form_fields(r.text, "template-form")
    assert shown["rows"] == "2" and shown["name_0"] == "名称" and shown["name_1"] == ""
    assert (await web.get(f"{STAFF}/{code}")).status_code == 404


async def test_a_stale_editor_is_told_instead_of_overwriting(web: Web, web2: Web):
    await staff_login(web, "operator")
    await staff_login(web2, "admin")
    code = _code()
    assert (await _new_node_template(web, code)).status_code == 303
    mine = form_fields((await web.get(f"{STAFF}/{code}/edit")).text, "template-form")
    theirs = form_fields((await web2.get(f"{STAFF}/{code}/edit")).text, "template-form")
    r = await web2.post(f"{STAFF}/{code}/edit", {**theirs, "name": "B"}, form_page=STAFF)
    assert r.status_code == 303
    r = await web.post(f"{STAFF}/{code}/edit", {**mine, "name": "A"}, form_page=STAFF)
    assert r.status_code == 409 and "is at version 2 now, not 1" in r.text
    assert 'value="A"' in r.text
    form = {"code": code, "kind": "core", **rows(NAME)}
    again = await web.post(f"{STAFF}/-/new", form, form_page=STAFF)
    assert again.status_code == 409 and "already exists" in again.text, again.text[-3000:]


@pytest.mark.parametrize("role", ["reviewer", "finance"])
async def test_reviewers_and_finance_read_but_cannot_edit(web: Web, web2: Web, role):
    await staff_login(web2, "operator")
    code = _code()
    assert (await _new_node_template(web2, code)).status_code == 303
    await staff_login(web, role)
    listing = await web.get(STAFF)
    assert listing.status_code == 200 and code in listing.text
    assert 'id="new-template"' not in listing.text
    view = await web.get(f"{STAFF}/{code}")
    assert view.status_code == 200 and 'id="edit-template"' not in view.text
    assert (await web.get(f"{STAFF}/{code}/edit")).status_code == 403
    assert (await web.get(f"{STAFF}/-/new")).status_code == 403
    form = {"expect": "1", "name": "x", "type": "2", **rows(NAME, MODEL)}
    assert (await web.post(f"{STAFF}/{code}/edit", form, form_page=STAFF)).status_code == 403
    r = await web.post(f"{STAFF}/-/new", {"code": _code(), **form}, form_page=STAFF)
    assert r.status_code == 403
    assert f"{code}@2" not in (await web.get(f"{STAFF}/{code}")).text


async def test_staff_pages_are_not_for_tenants_and_forms_need_csrf(web: Web, web2: Web, tenant_a):
    assert (await web.login(await add_member(tenant_a.id, "owner"))).status_code == 303
    assert (await web.get(STAFF)).status_code == 404
    await staff_login(web2, "operator")
    code = _code()
    r = await web2.c.post(f"{STAFF}/-/new", data={"code": code, "name": "x", **rows(NAME)})
    assert r.status_code == 403
    assert (await web2.get(f"{STAFF}/{code}")).status_code == 404


# --- tenant console ---------------------------------------------------------------


async def _member(web: Web, tenant: Any, role: str = "owner") -> str:
    assert (await web.login(await add_member(tenant.id, role))).status_code == 303
    return f"/console/{tenant.prefix}/templates"


HEAD = {"idIndex": 2100, "name": "扬程", "idType": "head", "required": True, "type": "number"}


async def _extend(web: Web, page: str, code: str, base: str = "core@1", *items: Any) -> Any:
    form = {"code": code, "name": "水泵", "base": base, **rows(*(items or (HEAD,)))}
    return await web.post(f"{page}/-/new", form, form_page=page)


async def test_tenant_extends_a_node_template_and_writes_versions(web: Web, client, tenant_a):
    page = await _member(web, tenant_a, "developer")
    listing = await web.get(page)
    assert listing.status_code == 200 and "<code>core</code>" in listing.text
    assert "/templates/-/new?base=core%401" in listing.text
    new = await web.get(f"{page}/-/new?base=core@1")
    assert new.status_code == 200 and "继承自 core@1 的数据项" in new.text
    code = _code("pump")
    r = await _extend(web, page, code)
    assert r.status_code == 303 and r.headers["location"] == f"{page}/{code}?v=1", r.text
    view = await web.get(r.headers["location"])
    assert "core@1" in view.text and "扬程" in view.text and "生产企业" in view.text

    # The editor shows only the tenant's own items; the base's are listed above it.
    edit = await web.get(f"{page}/{code}/edit")
    form = form_fields(edit.text, "template-form")
    assert form["base"] == "core@1" and form["name_0"] == "扬程" and form["name_1"] == ""
    form |= {"state_0": "0", "name_1": "流量", "idtype_1": "flow", "idindex_1": "2101"}
    r = await web.post(f"{page}/{code}/edit", {**form, "required_1": "1"}, form_page=page)
    assert r.status_code == 303 and r.headers["location"].endswith("?v=2"), r.text

    rec = [sv(1001, "templateVersion", f"{code}@1"), sv(2000, "name", "P")]
    r = await _put(client, tenant_a, "P-1", rec)
    assert r.status_code == 400 and "扬程" in r.json()["detail"]
    rec[1:1] = [sv(2100, "head", "32.5")]
    assert (await _put(client, tenant_a, "P-1", rec)).status_code == 201
    rec2 = [sv(1001, "templateVersion", f"{code}@2"), sv(2000, "name", "P")]
    r = await _put(client, tenant_a, "P-2", rec2)
    assert r.status_code == 400 and "流量" in r.json()["detail"]

    # Items of the base cannot be taken over under another idType.
    taken = {"idIndex": 2001, "name": "厂家", "idType": "maker"}
    r = await _extend(web, page, _code("pump"), "core@1", taken)
    assert r.status_code == 400 and "idIndex 2001 belongs to core@1" in r.text


async def test_tenant_cannot_edit_node_templates(web: Web, tenant_a):
    from tenants.templates.services import templates

    before = (await templates.get_template(None, "core")).version
    page = await _member(web, tenant_a)
    view = await web.get(f"{page}/core")
    assert view.status_code == 200 and 'id="edit-template"' not in view.text
    assert 'id="extend-template"' in view.text
    assert (await web.get(f"{page}/core/edit")).status_code == 403
    form = {"expect": str(before), "name": "mine", **rows(NAME)}
    assert (await web.post(f"{page}/core/edit", form, form_page=page)).status_code == 403
    # Nor can it shadow one with a template of its own under the same code.
    r = await web.post(f"{page}/-/new", {"code": "core", **form}, form_page=page)
    assert r.status_code == 400 and "is a node template" in r.text
    assert (await templates.get_template(tenant_a.id, "core")).tenant_id is None
    assert (await templates.get_template(None, "core")).version == before


async def test_another_tenants_template_is_not_found(web: Web, web2: Web, tenant_a, tenant_b):
    page_a = await _member(web, tenant_a)
    code = _code("pump")
    assert (await _extend(web, page_a, code)).status_code == 303
    page_b = await _member(web2, tenant_b)
    assert code not in (await web2.get(page_b)).text
    assert (await web2.get(f"{page_b}/{code}")).status_code == 404
    assert (await web2.get(f"{page_b}/{code}/edit")).status_code == 404
    assert (await web2.get(f"{page_b}/-/new?base={code}@1")).status_code == 404
    r = await _extend(web2, page_b, _code("steal"), f"{code}@1")
    assert r.status_code == 404
    form = {"expect": "1", "name": "x", **rows(HEAD)}
    assert (await web2.post(f"{page_b}/{code}/edit", form, form_page=page_b)).status_code == 404
    # Through A's URLs B is not a member at all.
    assert (await web2.get(f"{page_a}/{code}")).status_code == 404
    r = await web2.post(f"{page_a}/{code}/edit", form, form_page=page_b)
    assert r.status_code == 404


async def test_viewer_reads_but_cannot_write_and_forms_need_csrf(web: Web, web2: Web, tenant_a):
    page = await _member(web2, tenant_a, "admin")
    code = _code("pump")
    assert (await _extend(web2, page, code)).status_code == 303
    unsent = _code()
    r = await web2.c.post(f"{page}/-/new", data={"code": unsent, "base": "core@1", **rows(HEAD)})
    assert r.status_code == 403
    assert (await web2.get(f"{page}/{unsent}")).status_code == 404

    await _member(web, tenant_a, "viewer")
    listing = await web.get(page)
    assert listing.status_code == 200 and code in listing.text
    assert 'id="new-template"' not in listing.text and "-/new?base=" not in listing.text
    assert 'id="edit-template"' not in (await web.get(f"{page}/{code}")).text
    assert (await web.get(f"{page}/-/new")).status_code == 403
    assert (await web.get(f"{page}/{code}/edit")).status_code == 403
    assert (await _extend(web, page, _code())).status_code == 403
    form = {"expect": "1", "name": "x", "base": "core@1", **rows(HEAD)}
    assert (await web.post(f"{page}/{code}/edit", form, form_page=page)).status_code == 403


async def test_pages_speak_english_on_request(web: Web, tenant_a):
    page = await _member(web, tenant_a)
    r = await web.get(f"{page}?lang=en")
    assert "Metadata templates" in r.text and "Node templates" in r.text
    r = await web.get(f"{page}/core?lang=en")
    assert "Versions" in r.text and "标识模板" not in r.text
