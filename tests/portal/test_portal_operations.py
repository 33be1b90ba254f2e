"""Staff operations pages: the dashboard on the home page, resolution-log search,
maintenance windows, the monthly report in HTML, PDF and CSV; only for operators."""

from __future__ import annotations

import pytest
from portal_support import Web, staff_login

pytestmark = pytest.mark.anyio


async def test_operator_sees_the_dashboard_logs_maintenance_and_report(web: Web, tenant_a) -> None:
    from resolver.observability.recorder import record_interval

    h = f"{tenant_a.prefix}/OPS-1"
    r = await web.c.put(f"/api/handles/{h}", json=[{"index": 1, "type": "URL",
                        "data": "https://example.com/o"}], headers=tenant_a.auth())  # fmt: skip
    assert r.status_code == 201
    assert (await web.c.get(f"/api/handles/{h}")).status_code == 200
    await record_interval()
    await staff_login(web, "operator")
    home = await web.get("/staff")
    assert home.status_code == 200 and 'href="/staff/resolution-logs"' in home.text
    assert "<svg" in home.text  # the 24-hour charts of the doors that had traffic
    logs = await web.get(f"/staff/resolution-logs?identifier={h}")
    assert logs.status_code == 200 and h in logs.text and "rest" in logs.text
    assert (await web.get("/staff/resolution-logs?limit=100000")).status_code == 400
    r = await web.post("/staff/maintenance", {"starts_at": "2026-05-01T01:00",
                       "ends_at": "2026-05-01T02:00", "reason": "kernel upgrade"},
                       form_page="/staff/maintenance")  # fmt: skip
    assert r.status_code == 303
    assert "kernel upgrade" in (await web.get("/staff/maintenance")).text
    r = await web.post("/staff/maintenance", {"starts_at": "2026-05-01T03:00",
                       "ends_at": "2026-05-01T02:00"}, form_page="/staff/maintenance")  # fmt: skip
    assert r.status_code == 400
    report = await web.get("/staff/reports/monthly?month=2026-05")
    assert report.status_code == 200 and "kernel upgrade" in report.text
    pdf = await web.get("/staff/reports/monthly?month=2026-05&format=pdf")
    assert pdf.content.startswith(b"%PDF-") and pdf.headers["content-type"] == "application/pdf"
    csv = await web.get("/staff/reports/monthly?month=2026-05&format=csv")
    assert csv.text.startswith("section,name,value")
    assert (await web.get("/staff/reports/monthly?month=2026-13")).status_code == 400


async def test_a_reviewer_gets_no_operations_pages(web: Web) -> None:
    await staff_login(web, "reviewer")
    assert 'href="/staff/resolution-logs"' not in (await web.get("/staff")).text
    for path in ("/staff/operations", "/staff/resolution-logs", "/staff/maintenance"):
        assert (await web.get(path)).status_code == 404
