"""Staff console: import a tenant's archive (the staff door onto ``idnest import``).

An admin uploads an archive another node exported; the job runs in the background and
its page shows the progress, then the tenant it made, whose records resolve as before.
A refused archive ends the job failed, named, with nothing written. Only admins see the
pages. A job whose run died is claimed again; one still running is left alone."""

from __future__ import annotations

import io
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from portal_support import Web, add_member, staff_login

pytestmark = pytest.mark.anyio
JSON = {"Content-Type": "application/json"}


async def _exported_then_freed(client, tenant, tmp_path: Path) -> bytes:
    """Two records of ``tenant``, its archive, then the tenant erased and its prefix freed
    (so this node can take the archive back)."""
    from tenants.ownership.services.erasure import erase_tenant, release_prefix
    from tenants.ownership.services.export import export_tenant

    for n in (1, 2):
        r = await client.put(
            f"/api/handles/{tenant.prefix}/IMP-{n}",
            json=[{"index": 1, "type": "URL", "data": f"https://imp.example/{n}"}],
            headers={**tenant.auth(), **JSON},
        )
        assert r.status_code in (200, 201), r.text
    out = tmp_path / "a.tar.gz"
    await export_tenant(tenant.id, out)
    await erase_tenant(tenant.prefix, actor="test", reason="moved to another node")
    await release_prefix(tenant.prefix, actor="test", reason="moved to another node")
    return out.read_bytes()


async def _upload(web: Web, data: bytes) -> str:
    r = await web.post(
        "/staff/imports",
        {},
        form_page="/staff/imports",
        files={"archive": ("tenant.tar.gz", data, "application/gzip")},
    )
    assert r.status_code in (302, 303), r.text
    return str(r.headers["location"])


async def test_an_admin_imports_an_archive_and_its_records_resolve(
    web: Web, client, tenant_a, tmp_path
):
    from tenants.ownership import jobs

    data = await _exported_then_freed(client, tenant_a, tmp_path)
    gone = await client.get(f"/api/handles/{tenant_a.prefix}/IMP-1")
    assert gone.status_code == 404  # the prefix is released: no tenant serves it
    await staff_login(web, "admin")
    location = await _upload(web, data)
    assert location.startswith("/staff/imports/imp_")
    await jobs.wait_local()
    text = (await web.get(location)).text
    assert 'id="import-status" role="status">done<' in text, text
    assert f'href="/staff/tenants/{tenant_a.prefix}" id="import-tenant"' in text
    for n in (1, 2):
        r = await client.get(f"/api/handles/{tenant_a.prefix}/IMP-{n}")
        assert r.status_code == 200, r.text
        assert r.json()["values"][0]["data"]["value"] == f"https://imp.example/{n}"
    listing = (await web.get("/staff/imports")).text
    assert location.rsplit("/", 1)[1][:16] in listing and tenant_a.prefix in listing
    assert not list((tmp_path.parent).glob("**/imports/*.partial"))


async def test_a_tampered_archive_fails_named_and_writes_nothing(
    web: Web, client, tenant_a, tmp_path
):
    from tenants.accounts.services.tenants import find_by_prefix
    from tenants.ownership import jobs

    data = await _exported_then_freed(client, tenant_a, tmp_path)
    with tarfile.open(fileobj=io.BytesIO(data)) as t, io.BytesIO() as buf:
        with tarfile.open(fileobj=buf, mode="w:gz") as out:
            for m in t.getmembers():
                body = t.extractfile(m).read()  # type: ignore[union-attr]
                if m.name == "identifiers.ndjson":
                    body = body.replace(b"https://imp.example/1", b"https://evil.example/1")
                m.size = len(body)
                out.addfile(m, io.BytesIO(body))
        tampered = buf.getvalue()
    await staff_login(web, "admin")
    location = await _upload(web, tampered)
    await jobs.wait_local()
    text = (await web.get(location)).text
    assert 'id="import-status" role="status">failed<' in text
    assert "identifiers.ndjson: its SHA-256 differs from the manifest" in text
    assert await find_by_prefix(tenant_a.prefix) is None
    assert (await client.get(f"/api/handles/{tenant_a.prefix}/IMP-1")).status_code != 200


async def test_not_an_archive_and_no_file_are_refused(web: Web):
    from tenants.ownership import jobs

    await staff_login(web, "admin")
    r = await web.post("/staff/imports", {}, form_page="/staff/imports")
    assert r.status_code == 400 and "请选择要导入的归档文件" in r.text  # zh-CN, the default
    location = await _upload(web, b"this is not a tar file at all")
    await jobs.wait_local()
    text = (await web.get(location)).text
    assert 'id="import-status" role="status">failed<' in text
    assert "is not a readable tar archive" in text


async def test_only_admins_see_the_import_pages(web: Web, tenant_a):
    await staff_login(web, "operator")
    assert (await web.get("/staff/imports")).status_code == 404
    r = await web.post("/staff/imports", {}, form_page="/staff")
    assert r.status_code == 404


async def test_a_tenant_member_cannot_import(web: Web, tenant_a):
    r = await web.login(await add_member(tenant_a.id, "owner"))
    assert r.status_code == 303
    assert (await web.get("/staff/imports")).status_code == 404


async def test_a_dead_run_is_claimed_again_and_a_live_one_is_left_alone(settings):
    from core.tenancy import cross_tenant
    from tenants.ownership.services import imports
    from tenants.ownership.tables import TenantImport

    async def job(status: str, idle: float) -> int:
        when = datetime.now(UTC) - timedelta(seconds=idle)
        async with cross_tenant("ownership", write=True):
            row = await TenantImport.insert(
                TenantImport(public_id=f"imp_test_{status}_{idle}", status=status,
                             path="/nonexistent/a.tar.gz", created_at=when, updated_at=when)
            ).returning(TenantImport.id).run()  # fmt: skip
        return int(row[0]["id"])

    live = await job("running", 5)
    dead = await job("running", settings.export_stall_seconds + 60)
    done = await job("done", 0)
    assert await imports.process_import(live) == "nothing to do"
    assert await imports.process_import(done) == "nothing to do"
    said = await imports.process_import(dead)  # claimed, then refused: no such file
    assert said.startswith("import failed"), said
    async with cross_tenant("ownership"):
        rows = {r["id"]: r for r in await TenantImport.select().run()}
    assert rows[live]["status"] == "running" and rows[dead]["status"] == "failed"
    assert live in await imports.unfinished_imports()
    assert dead not in await imports.unfinished_imports()
    async with cross_tenant("ownership", write=True):  # the live one would be redriven later
        await TenantImport.delete().where(TenantImport.id.is_in([live, dead, done])).run()
