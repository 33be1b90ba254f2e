"""Console batch upload: a file becomes a bulk job (the same machinery as the API),
its progress and per-row results are shown, viewers and other tenants are kept out."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook
from portal_support import Web, add_member

pytestmark = pytest.mark.anyio


async def _login(web: Web, tenant, role: str = "owner") -> None:
    addr = await add_member(tenant.id, role)
    r = await web.login(addr)
    assert r.status_code == 303


async def _upload(web: Web, t, name: str, content: bytes, mode: str = "create"):
    return await web.post(
        f"/console/{t.prefix}/batch",
        {"mode": mode},
        form_page=f"/console/{t.prefix}/batch",
        files={"file": (name, content, "application/octet-stream")},
    )


async def _finish(web: Web, location: str) -> str:
    from tenants.identifiers import jobs

    await jobs.wait_local()
    page = await web.get(location)
    assert page.status_code == 200
    return page.text


async def test_csv_upload_registers_rows_and_reports_each(web: Web, tenant_a, client) -> None:
    await _login(web, tenant_a)
    t = tenant_a
    csv_text = (
        "handle,URL,2:EMAIL\n"
        f"{t.prefix}/B-1,https://example.com/1,a@example.com\n"
        f"{t.prefix}/B-2,https://example.com/2,b@example.com\n"
        f"20.500.1/NOT-OURS,https://example.com/x,\n"
    )
    r = await _upload(web, t, "rows.csv", csv_text.encode())
    assert r.status_code in (302, 303), r.text
    location = r.headers["location"]
    assert location.startswith(f"/console/{t.prefix}/batch/")
    text = await _finish(web, location)
    assert 'id="job-ok">2<' in text and 'id="job-failed">1<' in text
    results = await web.get(f"{location}/results")
    assert results.status_code == 200 and results.headers["content-type"].startswith("text/csv")
    lines = results.text.strip().splitlines()
    assert lines[0] == "row,handle,status,message"
    assert lines[1].startswith(f"1,{t.prefix}/B-1,ok") and lines[3].startswith("3,20.500.1")
    assert ",error," in lines[3]
    got = await client.get(f"/api/handles/{t.prefix}/B-2?type=EMAIL")
    assert got.json()["values"][0]["data"]["value"] == "b@example.com"
    listing = await web.get(f"/console/{t.prefix}/batch")
    assert location.rsplit("/", 1)[1][:12] in listing.text and "<progress" in listing.text


async def test_xlsx_upload_is_read_like_csv(web: Web, tenant_a, client) -> None:
    await _login(web, tenant_a)
    t = tenant_a
    book = Workbook()
    sheet = book.active
    sheet.append(["handle", "URL", "2000:gtin"])
    sheet.append([f"{t.prefix}/X-1", "https://example.com/x1", 6901234567892])
    buf = io.BytesIO()
    book.save(buf)
    r = await _upload(web, t, "rows.xlsx", buf.getvalue(), mode="upsert")
    assert r.status_code in (302, 303), r.text
    await _finish(web, r.headers["location"])
    got = (await client.get(f"/api/handles/{t.prefix}/X-1")).json()
    values = {v["index"]: v["data"]["value"] for v in got["values"]}
    assert values[1] == "https://example.com/x1" and values[2000] == "6901234567892"


async def test_bad_files_are_refused_with_a_message(web: Web, tenant_a) -> None:
    await _login(web, tenant_a)
    t = tenant_a
    r = await _upload(web, t, "bad.csv", b"name,URL\nx,y\n")
    assert r.status_code == 400 and "handle" in r.text
    r = await _upload(web, t, "bad.xlsx", b"PK\x03\x04 not really a zip")
    assert r.status_code == 400 and "XLSX" in r.text
    r = await web.post(
        f"/console/{t.prefix}/batch", {"mode": "create"}, form_page=f"/console/{t.prefix}/batch"
    )
    assert r.status_code == 400


async def test_viewer_cannot_upload(web: Web, tenant_a) -> None:
    await _login(web, tenant_a, "viewer")
    page = await web.get(f"/console/{tenant_a.prefix}/batch")
    assert page.status_code == 200 and 'id="batch-form"' not in page.text
    r = await _upload(
        web, tenant_a, "rows.csv", f"handle,URL\n{tenant_a.prefix}/V,https://e\n".encode()
    )
    assert r.status_code == 403


async def test_other_tenant_cannot_see_jobs_or_results(
    web: Web, web2: Web, tenant_a, tenant_b
) -> None:
    await _login(web, tenant_a)
    r = await _upload(
        web, tenant_a, "rows.csv", f"handle,URL\n{tenant_a.prefix}/P,https://e.x\n".encode()
    )
    job_path = r.headers["location"]
    job_id = job_path.rsplit("/", 1)[1]
    await _finish(web, job_path)
    await _login(web2, tenant_b)
    assert (await web2.get(job_path)).status_code == 404  # A's console is not B's
    for path in (
        f"/console/{tenant_b.prefix}/batch/{job_id}",
        f"/console/{tenant_b.prefix}/batch/{job_id}/results",
    ):
        assert (await web2.get(path)).status_code == 404
    assert job_id[:12] not in (await web2.get(f"/console/{tenant_b.prefix}/batch")).text


async def test_stopping_an_upload_from_the_console(
    web: Web, web2: Web, tenant_a, tenant_b, monkeypatch
) -> None:
    from tenants.identifiers import jobs

    monkeypatch.setattr(jobs, "enqueue", lambda pk: None)  # no worker: it stays queued
    await _login(web, tenant_a)
    rows = "handle,URL\n" + "".join(f"{tenant_a.prefix}/S-{i},https://e.x/{i}\n" for i in range(5))
    r = await _upload(web, tenant_a, "rows.csv", rows.encode())
    job_path = r.headers["location"]
    page = await web.get(job_path)
    assert 'id="job-cancel"' in page.text
    # Tenant B cannot stop A's upload, whatever path it tries.
    await _login(web2, tenant_b)
    job_id = job_path.rsplit("/", 1)[1]
    for path in (f"{job_path}/cancel", f"/console/{tenant_b.prefix}/batch/{job_id}/cancel"):
        assert (
            await web2.post(path, form_page=f"/console/{tenant_b.prefix}/batch")
        ).status_code in (
            403,
            404,
        )
    r = await web.post(f"{job_path}/cancel", form_page=job_path)
    assert r.status_code in (302, 303), r.text
    page = await web.get(job_path)
    assert "已取消" in page.text and 'id="job-cancel"' not in page.text
    assert 'http-equiv="refresh"' not in page.text  # a stopped job is not polled
    # Stopping twice names the problem instead of failing.
    r = await web.post(f"{job_path}/cancel", form_page=job_path)
    assert r.status_code == 409


async def test_viewer_sees_no_stop_button(web: Web, web2: Web, tenant_a, monkeypatch) -> None:
    from tenants.identifiers import jobs

    monkeypatch.setattr(jobs, "enqueue", lambda pk: None)
    await _login(web, tenant_a)
    r = await _upload(
        web, tenant_a, "rows.csv", f"handle,URL\n{tenant_a.prefix}/Q,https://e\n".encode()
    )
    job_path = r.headers["location"]
    await _login(web2, tenant_a, "viewer")
    page = await web2.get(job_path)
    assert page.status_code == 200 and 'id="job-cancel"' not in page.text
    assert (await web2.post(f"{job_path}/cancel", form_page=job_path)).status_code == 403
