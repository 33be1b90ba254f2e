"""The whole path in a real browser: signup → confirm → reject → fix → approve → console.

The tests share one server and run in file order; `STATE` carries what a later test
needs (the first tenant's prefix, the owner's email).
"""

from __future__ import annotations

import email
import re
from typing import Any

import pyotp
import pytest
from e2e_support import LAN_HOST, SHOTS, Server

pytestmark = pytest.mark.e2e

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PASSWORD = "correct horse battery"
STATE: dict[str, Any] = {}


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def last_link(server: Server, to: str, marker: str) -> str:
    for path in sorted(server.mail_dir.glob("*.eml"), reverse=True):
        msg = email.message_from_bytes(path.read_bytes())
        if msg["To"] == to:
            body = msg.get_payload(decode=True).decode()
            m = re.search(r"https?://\S*" + re.escape(marker) + r"\S*", body)
            if m:
                return m.group(0)
    raise AssertionError(f"no mail with {marker} to {to}")


def fill_signup(page: Any, *, company: str, code: str, mail: str) -> None:
    page.fill("#f-company_name", company)
    page.fill("#f-short_name", company[:4])
    page.fill("#f-credit_code", code)
    if not page.is_checked('input[name=industries][value="13"]'):
        page.click("summary:has-text('C ·')")
        page.check('input[name=industries][value="13"]')
    page.fill("#f-region", "北京市海淀区")
    page.fill("#f-address", "中关村大街 1 号")
    page.fill("#f-contact_name", "张三")
    page.fill("#f-contact_mobile", "13800138000")
    page.fill("#f-contact_email", mail)
    page.fill("#f-contact_id", "11010519491231002X")
    page.fill("#f-endpoints", "8.8.8.8\nexample.com")
    page.set_input_files(
        "#f-licence", files=[{"name": "licence.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    page.fill("#f-password", PASSWORD)
    page.fill("#f-password2", PASSWORD)


def staff_page(server: Server, browser: Any) -> Any:
    """A reviewer, logged in with TOTP set up on first login."""
    if "staff" not in STATE:
        server.cli(
            "staff",
            "create",
            "--email",
            "reviewer@example.com",
            "--role",
            "reviewer",
            stdin=PASSWORD + "\n",
        )
        page = browser.new_context(
            locale="zh-CN", viewport={"width": 1200, "height": 900}
        ).new_page()
        page.goto(f"{server.base}/login")
        page.fill("#f-email", "reviewer@example.com")
        page.fill("#f-password", PASSWORD)
        page.click("button[type=submit]:has-text('登录')")
        page.wait_for_url("**/staff/totp")
        secret = page.inner_text("#totp-secret")
        page.fill("#f-code", pyotp.TOTP(secret).now())
        page.click("main button[type=submit]")
        page.wait_for_url("**/staff")
        STATE["staff"] = page
    return STATE["staff"]


def approve(server: Server, browser: Any, company: str, *, reject_first: str = "") -> str:
    page = staff_page(server, browser)
    page.goto(f"{server.base}/staff/applications?status=submitted")
    page.click(f"a:has-text('{company}')")
    if page.locator("#start-review").count():
        page.click("#start-review")
    if reject_first:
        page.fill("#f-reason", reject_first)
        page.click("#reject")
        assert "已退回" in page.inner_text("#app-status")
        return ""
    page.click("#approve")
    text = page.inner_text("main .notice")
    return re.search(r"88\.100\.\w+", text).group(0)


def test_signup_review_console_and_public_resolution(server: Server, browser: Any) -> None:
    ctx = browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 900})
    page = ctx.new_page()
    owner = "owner-a@example.com"
    # 1. Sign up, with a bad credit code first.
    page.goto(f"{server.base}/signup")
    assert "统一社会信用代码" in page.content()
    fill_signup(page, company="北京甲科技有限公司", code="91310000MA1FL1MM3H", mail=owner)
    page.click("button:has-text('提交申请')")
    assert page.locator("#e-credit_code").is_visible()
    assert page.input_value("#f-company_name") == "北京甲科技有限公司"
    shot(page, "01-signup-error")
    fill_signup(page, company="北京甲科技有限公司", code="91110000802100433B", mail=owner)
    page.click("button:has-text('提交申请')")
    page.wait_for_url("**/application")
    shot(page, "02-application-draft")
    # 2. Confirm the email from the mail outbox.
    page.goto(last_link(server, owner, "/confirm/"))
    assert "邮箱已确认" in page.content()
    # 3. The reviewer rejects; the applicant fixes; the reviewer approves.
    approve(server, browser, "北京甲科技有限公司", reject_first="营业执照照片不清晰，请重新上传")
    shot(STATE["staff"], "03-staff-rejected")
    page.goto(f"{server.base}/application")
    assert "营业执照照片不清晰" in page.content()
    page.click("a:has-text('修改并重新提交')")
    page.fill("#f-address", "中关村大街 1 号 A 座")
    page.set_input_files(
        "#f-licence", files=[{"name": "clear.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    page.click("button:has-text('重新提交申请')")
    page.wait_for_url("**/application")
    assert "已提交" in page.inner_text("#app-status")
    prefix = approve(server, browser, "北京甲科技有限公司")
    shot(STATE["staff"], "04-staff-approved")
    STATE["prefix_a"], STATE["owner_a"] = prefix, owner
    # 4. The owner logs in, creates an identifier and an API key.
    page.click("button:has-text('退出')")
    page.fill("#f-email", owner)
    page.fill("#f-password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"**/console/{prefix}")
    shot(page, "05-console-dashboard")
    page.click("nav.sub a:has-text('标识')")
    page.click("#new-identifier")
    page.fill("#f-suffix", "E2E-PUMP-1")
    page.fill("input[name=index_0]", "1")
    page.fill("input[name=type_0]", "URL")
    page.fill("input[name=data_0]", "https://example.com/pump-1")
    shot(page, "06-identifier-form")
    page.click("#save")
    page.wait_for_url("**/identifier?h=E2E-PUMP-1")
    assert "https://example.com/pump-1" in page.content()
    page.click("nav.sub a:has-text('API 密钥')")
    page.click("#create-key")
    key = page.input_value("#new-key")
    assert key.startswith("idn_")
    page.click("button.copy")
    shot(page, "07-api-key-once")
    # The identifier resolves publicly (no cookies), and the key writes.
    anon = browser.new_context(locale="zh-CN").new_page()
    res = anon.request.get(f"{server.base}/api/handles/{prefix}/E2E-PUMP-1")
    assert res.status == 200 and "https://example.com/pump-1" in res.text()
    anon.goto(f"{server.base}/{prefix}/E2E-PUMP-1?noredirect")
    assert "https://example.com/pump-1" in anon.content()
    shot(anon, "08-public-record")
    put = anon.request.put(
        f"{server.base}/api/handles/{prefix}/VIA-KEY",
        headers={"Authorization": f"Bearer {key}"},
        data={"values": [{"index": 1, "type": "URL", "data": "https://k.example"}]},
    )
    assert put.status in (200, 201)
    STATE["owner_page"] = page


def test_viewer_cannot_edit(server: Server, browser: Any) -> None:
    owner, prefix = STATE["owner_page"], STATE["prefix_a"]
    owner.goto(f"{server.base}/console/{prefix}/members")
    owner.fill("#f-email", "viewer-a@example.com")
    owner.select_option("#f-role", "viewer")
    owner.click("button:has-text('邀请')")
    page = browser.new_context(locale="zh-CN").new_page()
    page.goto(last_link(server, "viewer-a@example.com", "/invite/"))
    page.fill("#f-password", PASSWORD)
    page.click("main button[type=submit]")
    page.fill("#f-email", "viewer-a@example.com")
    page.fill("#f-password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"**/console/{prefix}")
    page.goto(f"{server.base}/console/{prefix}/identifiers")
    assert page.locator("#new-identifier").count() == 0
    page.click(f"a:has-text('{prefix}/E2E-PUMP-1')")
    assert page.locator("#edit").count() == 0
    resp = page.goto(f"{server.base}/console/{prefix}/identifier/edit?h=E2E-PUMP-1")
    assert resp.status == 403
    shot(page, "09-viewer-forbidden")


def test_tenant_b_cannot_open_tenant_a(server: Server, browser: Any) -> None:
    page = browser.new_context(
        locale="zh-CN", viewport={"width": 390, "height": 844}
    ).new_page()  # phone
    page.goto(f"{server.base}/signup")
    fill_signup(
        page, company="深圳乙电子有限公司", code="9144030071526726XG", mail="owner-b@example.com"
    )
    page.click("button:has-text('提交申请')")
    page.wait_for_url("**/application")
    page.goto(last_link(server, "owner-b@example.com", "/confirm/"))
    prefix_b = approve(server, browser, "深圳乙电子有限公司")
    page.goto(f"{server.base}/console/{prefix_b}")
    shot(page, "10-console-phone")
    prefix_a = STATE["prefix_a"]
    for path in ("", "/identifiers", "/identifier?h=E2E-PUMP-1", "/keys", "/members"):
        resp = page.goto(f"{server.base}/console/{prefix_a}{path}")
        assert resp.status == 404, path
        assert "E2E-PUMP-1" not in page.content() and "北京甲" not in page.content()
    shot(page, "11-other-tenant-404")


def test_posts_without_csrf_are_refused(server: Server, browser: Any) -> None:
    page, prefix = STATE["owner_page"], STATE["prefix_a"]
    page.goto(f"{server.base}/console/{prefix}/keys")
    page.evaluate("document.querySelectorAll('input[name=_csrf_token]').forEach(e => e.remove())")
    with page.expect_navigation():
        page.click("#create-key")
    assert "403" in page.content()
    # A bare request with the session cookie but no token, as a cross-site form would send.
    res = page.request.post(f"{server.base}/console/{prefix}/keys", form={"scopes": "read"})
    assert res.status == 403
    anon = browser.new_context(locale="zh-CN").new_page()
    res = anon.request.post(f"{server.base}/signup", form={"company_name": "x"})
    assert res.status == 403


def test_owner_extends_a_node_template(server: Server, browser: Any) -> None:
    page, prefix = STATE["owner_page"], STATE["prefix_a"]
    page.goto(f"{server.base}/console/{prefix}/templates")
    # The action column's header is for screen readers: in the layout it takes no room.
    hidden = page.locator("#node-templates th .visually-hidden").bounding_box()
    assert hidden is not None and hidden["width"] <= 1 and hidden["height"] <= 1
    page.click("#node-templates tr:has(code:text-is('boiler')) a:has-text('扩展')")
    assert "继承自 boiler@1 的数据项" in page.content()
    page.fill("#f-code", "e2eboiler")
    page.fill("#f-name", "我的锅炉")
    page.fill("input[name=idindex_0]", "2100")
    page.fill("input[name=name_0]", "额定压力")
    page.fill("input[name=idtype_0]", "pressure")
    page.select_option("select[name=type_0]", "number")
    page.click("#add-row")  # the server adds a row and keeps what was typed
    assert page.input_value("input[name=name_0]") == "额定压力"
    assert page.locator("input[name^=name_]").count() == 4
    page.fill("input[name=idindex_1]", "1999")
    page.fill("input[name=name_1]", "批号")
    page.click("#save")
    assert "idIndex must be an integer >= 2000" in page.inner_text("#form-error")
    page.fill("input[name=idindex_1]", "2101")
    shot(page, "12-template-form")
    page.click("#save")
    page.wait_for_url("**/templates/e2eboiler?v=1")
    assert "额定压力" in page.content() and "boiler@1" in page.content()
    # Version 2 disables an item; the page says what changed.
    page.click("#edit-template")
    page.select_option("select[name=state_0]", "0")
    page.click("#save")
    page.wait_for_url("**/templates/e2eboiler?v=2")
    assert "停用: 额定压力 (2100)" in page.inner_text("#changes")
    shot(page, "13-template-version-2")
    # Reviewers read node templates but get no editor.
    staff = staff_page(server, browser)
    staff.goto(f"{server.base}/staff/templates")
    assert "boiler" in staff.content() and staff.locator("#new-template").count() == 0
    shot(staff, "14-staff-templates")


def test_reviewer_searches_all_tenants(server: Server, browser: Any) -> None:
    staff, prefix = staff_page(server, browser), STATE["prefix_a"]
    staff.goto(f"{server.base}/staff")
    staff.click("nav.sub a:has-text('搜索标识')")
    staff.select_option("#f-scope", "all")
    staff.fill("#f-q", "e2e-pump")
    staff.fill("#f-created_from", "2000-01-01")
    staff.click("#search")
    assert f"{prefix}/E2E-PUMP-1" in staff.inner_text("#results")
    # The search is in the audit trail on the same page, under the reviewer's name.
    recent = staff.inner_text("#recent-searches tbody tr:first-child")
    assert "reviewer@example.com" in recent and "标识包含: e2e-pump" in recent
    shot(staff, "15-staff-search")
    staff.click(f"#results a:text-is('{prefix}/E2E-PUMP-1')")
    assert "https://example.com/pump-1" in staff.content()  # the public record view


def test_login_over_plain_http_from_the_lan_with_totp_qr(server: Server, browser: Any) -> None:
    """As from another machine: http://{LAN host}:port, which is not a secure origin to
    the browser, so a Secure cookie would be dropped and every form refused. On the
    embedded default the cookies follow the scheme; first login shows the TOTP QR code."""
    server.cli(
        "staff", "create", "--email", "lan@example.com", "--role", "admin", stdin=PASSWORD + "\n"
    )
    base = server.base.replace("127.0.0.1", LAN_HOST)
    context = browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("#f-email", "lan@example.com")
    page.fill("#f-password", PASSWORD)
    page.click("button[type=submit]:has-text('登录')")
    page.wait_for_url("**/staff/totp")
    cookies = {c["name"]: c for c in context.cookies()}
    assert {"idnest_csrf", "idnest_session"} <= set(cookies)
    assert not any(c["secure"] for c in cookies.values())
    # The QR code is an SVG drawn here (no other host) that the browser renders.
    qr = page.locator("img#totp-qr")
    assert qr.get_attribute("src").startswith("data:image/svg+xml")
    assert page.evaluate("document.querySelector('img#totp-qr').naturalWidth") > 100
    shot(page, "16-totp-qr-over-lan-http")
    page.fill("#f-code", pyotp.TOTP(page.inner_text("#totp-secret")).now())
    page.click("main button[type=submit]")
    page.wait_for_url("**/staff")
    assert page.url.endswith("/staff") and "企业节点" in page.content()
