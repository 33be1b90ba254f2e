"""A tenant's data ownership: the archive holds everything it owns and nothing of
another's, is refused when tampered with, imports into a node as an identical tenant,
and erasure leaves nothing but what the law keeps (docs/ownership.md)."""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from pathlib import Path
from typing import Any

import pytest
from node_support import as_node

from core.tenancy import TENANT_TABLES
from tenants.ownership.services import archive
from tenants.ownership.services.erasure import erase_tenant, release_prefix, verify_erased
from tenants.ownership.services.export import export_tenant
from tenants.ownership.services.importer import import_archive

pytestmark = pytest.mark.anyio
JSON = {"Content-Type": "application/json"}
# Tables the test tenant fills; every other exportable table must be named in SPARSE.
SPARSE = {
    "gs1_items": "filled only by GS1 item master data, not needed for the round trip",
    "billing_subscriptions": "no plan is chosen in this test",
    "billing_invoices": "no invoice is issued in this test",
    "billing_invoice_lines": "no invoice is issued in this test",
    "stripe_customers": "no Stripe key in this test",
    "stripe_invoices": "no Stripe key in this test",
    "payments": "no payment is received in this test",
    "bank_transfers": "no bank transfer is recorded in this test",
    "fapiao_profiles": "no invoicing details are entered in this test",
    "dunning_cases": "no invoice is overdue in this test",
    "enterprise_servers": "a tenant with servers of its own resolves there (tests/enterprise); "
    "this one stays delegated, with a change waiting for review",
}


def _files(path: Path) -> dict[str, list[dict[str, Any]]]:
    out = {}
    with tarfile.open(path) as tar:
        for m in tar.getmembers():
            if m.name.endswith(".ndjson"):
                data = tar.extractfile(m).read()  # type: ignore[union-attr]
                out[m.name] = [json.loads(line) for line in data.splitlines()]
    return out


def _comparable(files: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """The archive without what the manifest names node-specific (ids, the tenant id)."""
    drop = {"id", "tenant_id", "job_id"}
    return {
        n: [{k: v for k, v in r.items() if k not in drop} for r in rows]
        for n, rows in files.items()
    }


async def _seed_everything(client: Any, t: Any) -> list[str]:
    """A tenant with data in every table a tenant fills through the product."""
    from core.schemes.gs1 import gs1_check_digit
    from tenants.accounts.services.users import create_member
    from tenants.enterprise.services.requests import request_change
    from tenants.identifiers.services.snms import create_account
    from tenants.templates.services.templates import save_template

    await request_change(t.id, delegated=False, servers="192.0.2.10:2641", actor="test")
    handles = []
    for i in range(5):
        h = f"{t.prefix}/P-{i}"
        values = [
            {"index": 1, "type": "URL", "data": f"https://a.example/{i}"},
            {"index": 2, "type": "SECRET.NOTE", "data": f"internal {i}", "permissions": "1100"},
        ]
        r = await client.put(f"/api/handles/{h}", json=values, headers={**t.auth(), **JSON})
        assert r.status_code in (200, 201), r.text
        handles.append(h)
    seckey = [{"index": 300, "type": "HS_SECKEY", "data": "s3cret-value", "permissions": "1100"}]
    r = await client.put(
        f"/api/handles/{t.prefix}/admin", json=seckey, headers={**t.auth(), **JSON}
    )
    assert r.status_code in (200, 201), r.text
    r = await client.put(
        f"/api/handles/{t.prefix}/泵-001",
        json=[{"index": 1, "type": "DESC", "data": "离心泵"}],
        headers={**t.auth(), **JSON},
    )
    handles.append(f"{t.prefix}/泵-001")
    from tenants.schemes.services.namespaces import request_namespace, review_namespace

    gcp = f"69{uuid.uuid4().int % 10**7:07d}"
    info = await request_namespace(t.id, "gs1", gcp, actor="test")
    await review_namespace("gs1", info.value, verified=True, actor="staff:test")
    body = "0" + gcp + "001"
    code = body + str(gs1_check_digit(body))
    r = await client.post(
        "/api/v1/schemes/gs1/codes",
        json={"code": f"/01/{code}", "url": "https://a.example/gtin"},
        headers={**t.auth(), **JSON},
    )
    assert r.status_code in (200, 201), r.text
    r = await client.post(
        "/api/v1/gs1/links",
        json={
            "key": f"/01/{code}",
            "link_type": "gs1:certificationInfo",
            "href": "https://a.example/cert",
        },
        headers={**t.auth(), **JSON},
    )
    assert r.status_code in (200, 201), r.text
    r = await client.post(
        "/api/v1/mappings",
        json={"private_code": "ERP-1", "public": handles[0]},
        headers={**t.auth(), **JSON},
    )
    assert r.status_code in (200, 201), r.text
    tag = uuid.uuid4().hex[:8]
    await create_account(t.prefix, f"snms{tag}", "password-123456", actor="test")
    await create_member(
        t.id, f"owner{tag}@a.example", "Password-123456!", role="owner", actor="test"
    )
    name = {"name": "名称", "idType": "name", "idIndex": 2000, "required": True, "state": 1}
    await save_template(
        owner_tenant=t.id, code=f"own{tag}", body={"name": "own", "items": [name]}, actor="test"
    )
    r = await client.post(
        "/api/bulk/jobs?format=ndjson&mode=create",
        # the second row fails (it exists by then): a bulk job with a failure row
        content=(json.dumps({"handle": f"{t.prefix}/BULK-1", "values": []}) + "\n").encode() * 2,
        headers=t.auth(),
    )
    assert r.status_code == 202, r.text
    from tenants.identifiers import jobs as bulk_jobs

    await bulk_jobs.wait_local()
    await _usage(t.id)
    from tenants.clients.services.clients import create_client

    await create_client(t.prefix, name="erp", scopes="read", actor="test")
    return handles


async def _usage(tenant_id: int) -> None:
    from datetime import date

    from core.tenancy import tenant_transaction
    from resolver.tables import ResolutionCount

    async with tenant_transaction(tenant_id):
        await ResolutionCount.insert(
            ResolutionCount(tenant_id=tenant_id, day=date(2026, 11, 30), resolutions=42)
        ).run()


async def _resolve_all(client: Any, t: Any, handles: list[str]) -> list[Any]:
    out = []
    for h in handles:
        r = await client.get(f"/api/handles/{h}", params={"publicOnly": "false"}, headers=t.auth())
        assert r.status_code == 200, r.text
        out.append(sorted(json.dumps(v, sort_keys=True) for v in r.json()["values"]))
    return out


async def test_round_trip_export_erase_import_export(client, tenant_a, tenant_b, tmp_path):
    from tenants.accounts.services.tenants import create_tenant, get_by_prefix
    from tenants.grants.services.grants import create_grant

    handles = await _seed_everything(client, tenant_a)
    owner = await get_by_prefix(tenant_a.prefix)  # A's grant to B travels with A's data
    await create_grant(owner, tenant_b.prefix, kind="pattern", selector="P-*", actor="test")
    r = await client.put(
        f"/api/handles/{tenant_b.prefix}/B-SECRET",
        json=[{"index": 1, "type": "URL", "data": "https://b.example/1"}],
        headers={**tenant_b.auth(), **JSON},
    )
    before = await _resolve_all(client, tenant_a, [h for h in handles])
    first = tmp_path / "a1.tar.gz"
    manifest = await export_tenant(tenant_a.id, first)
    assert archive.verify(first).own_key
    files = _files(first)
    filled = {n.removesuffix(".ndjson") for n, rows in files.items() if rows}
    exportable = {t.name for t in TENANT_TABLES if t.exportable}
    assert exportable - filled == set(SPARSE), "every tenant table travels, with rows"
    blob = b"".join(json.dumps(rows, ensure_ascii=False).encode() for rows in files.values())
    assert b"internal 3" in blob and "离心泵".encode() in blob
    assert tenant_b.prefix.encode() + b"/" not in blob, "B's rows in A's archive"
    assert b"s3cret-value" not in blob and manifest["withheld"]["values"] == {"HS_SECKEY": 1}
    assert b"secret_hash" not in blob and b"password_hash" not in blob

    deleted = await erase_tenant(tenant_a.prefix, actor="staff:test", reason="round trip")
    assert deleted["identifiers"] >= 7
    assert (await verify_erased(tenant_a.prefix)).ok
    r = await client.get(f"/api/handles/{handles[0]}")
    assert r.status_code == 410 and r.headers["content-type"].startswith("application/problem+json")
    r = await client.get(f"/api/handles/{tenant_b.prefix}/B-SECRET")
    assert r.status_code == 200, "another tenant is untouched"
    await release_prefix(tenant_a.prefix, actor="staff:test", reason="round trip")

    result = await import_archive(first, actor="test")
    assert result["tenant"] == tenant_a.prefix
    second = tmp_path / "a2.tar.gz"
    await export_tenant(result["tenant_id"], second)
    assert _comparable(_files(second)) == _comparable(files)
    from tenants.accounts.services.apikeys import create_key

    key, _ = await create_key(tenant_a.prefix, scopes="read,write", actor="test")
    again = type(tenant_a)(result["tenant_id"], tenant_a.prefix, key, key)
    assert await _resolve_all(client, again, handles) == [
        [v for v in vals if "HS_SECKEY" not in v] for vals in before
    ]
    # A second import of the same archive is refused: the prefix is taken now.
    with pytest.raises(Exception, match="already allocated"):
        await import_archive(first, actor="test")
    assert (await create_tenant("After", actor="test")).prefix != tenant_a.prefix


async def test_import_failing_midway_leaves_nothing(client, tenant_a, tmp_path, monkeypatch):
    """A batch is inserted while the next is converted (importer._load_table): a failure
    then, with an insert in flight, still rolls the whole import back."""
    from tenants.identifiers.tables import Identifier
    from tenants.ownership.services import importer

    for i in range(7):
        r = await client.put(
            f"/api/handles/{tenant_a.prefix}/MID-{i}",
            json=[{"index": 1, "type": "URL", "data": f"https://a.example/{i}"}],
            headers={**tenant_a.auth(), **JSON},
        )
        assert r.status_code in (200, 201), r.text
    path = tmp_path / "a.tar.gz"
    await export_tenant(tenant_a.id, path)
    await erase_tenant(tenant_a.prefix, actor="staff:test", reason="midway")
    await release_prefix(tenant_a.prefix, actor="staff:test", reason="midway")
    monkeypatch.setattr(importer, "INSERT_ROWS", 2)
    real, calls = importer.import_row, []

    def failing(table: Any, *args: Any) -> Any:
        if table.name == "identifiers":
            calls.append(1)
            if len(calls) == 5:  # the third batch; the second is being inserted
                raise RuntimeError("midway")
        return real(table, *args)

    monkeypatch.setattr(importer, "import_row", failing)
    with pytest.raises(RuntimeError, match="midway"):
        await import_archive(path, actor="test")
    from tenants.accounts.tables import Tenant

    assert (
        await Tenant.count()
        .where(Tenant.status != "erased")
        .where(Tenant.prefix == tenant_a.prefix)
        .run()
        == 0
    )
    handle = f"{tenant_a.prefix}/MID-%"
    async with as_node():
        assert await Identifier.count().where(Identifier.handle.like(handle)).run() == 0


def _rewrite(src: Path, dst: Path, change: Any) -> None:
    with tarfile.open(src) as t, tarfile.open(dst, "w:gz") as out:
        for m in t.getmembers():
            data = t.extractfile(m).read()  # type: ignore[union-attr]
            data = change(m.name, data)
            if data is None:
                continue
            m.size = len(data)
            out.addfile(m, io.BytesIO(data))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda n, d: (
            d.replace(b"https://a.example/2", b"https://a.example/X")
            if n == "identifiers.ndjson"
            else d
        ),
        lambda n, d: None if n == "audit_log.ndjson" else d,
        lambda n, d: (
            d.replace(b'"format_version": 1', b'"format_version": 1 ')
            if n == "manifest.json"
            else d
        ),
        lambda n, d: d.replace(b'"rows": ', b'"rows": 1', 1) if n == "manifest.json" else d,
    ],
    ids=["changed-byte", "removed-file", "manifest-edit", "manifest-count"],
)
async def test_tampered_archives_are_refused_by_verify_and_import(
    client, tenant_a, tmp_path, tamper
):
    from tenants.identifiers.tables import Identifier

    r = await client.put(
        f"/api/handles/{tenant_a.prefix}/T-2",
        json=[{"index": 1, "type": "URL", "data": "https://a.example/2"}],
        headers={**tenant_a.auth(), **JSON},
    )
    assert r.status_code in (200, 201), r.text
    good = tmp_path / "good.tar.gz"
    await export_tenant(tenant_a.id, good)
    bad = tmp_path / "bad.tar.gz"
    _rewrite(good, bad, tamper)
    with pytest.raises(archive.ArchiveInvalid):
        archive.verify(bad)
    await erase_tenant(tenant_a.prefix, actor="test", reason="make the prefix free")
    await release_prefix(tenant_a.prefix, actor="test", reason="make the prefix free")
    with pytest.raises(archive.ArchiveInvalid):
        await import_archive(bad, actor="test")
    from tenants.accounts.services.tenants import find_by_prefix

    assert await find_by_prefix(tenant_a.prefix) is None, "nothing written for a refused archive"
    async with as_node():
        left = await Identifier.count().where(Identifier.handle == f"{tenant_a.prefix}/T-2").run()
    assert left == 0


async def test_export_job_api_download_range_and_isolation(client, tenant_a, tenant_b):
    r = await client.put(
        f"/api/handles/{tenant_a.prefix}/J-1",
        json=[{"index": 1, "type": "URL", "data": "https://a.example/j"}],
        headers={**tenant_a.auth(), **JSON},
    )
    await client.post("/api/exports", headers=tenant_b.auth())  # B exports too
    r = await client.post("/api/exports", headers=tenant_a.auth())
    assert r.status_code == 202, r.text
    job = r.json()["id"]
    from tenants.ownership import jobs

    await jobs.wait_local()
    r = await client.get(f"/api/exports/{job}", headers=tenant_a.auth())
    body = r.json()
    assert body["status"] == "done" and body["progress"]["percent"] == 100, body
    link = body["download"]
    assert (await client.get(f"/api/exports/{job}", headers=tenant_b.auth())).status_code == 404
    assert (await client.get(link, headers=tenant_b.auth())).status_code in (401, 403, 404)
    assert (await client.get(link)).status_code == 401
    forged = link.split("token=")[0] + "token=" + "x" * 32
    assert (await client.get(forged, headers=tenant_a.auth())).status_code == 401
    whole = await client.get(link, headers=tenant_a.auth())
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    part = await client.get(link, headers={**tenant_a.auth(), "Range": "bytes=0-99"})
    rest = await client.get(link, headers={**tenant_a.auth(), "Range": "bytes=100-"})
    assert part.status_code == 206 and rest.status_code == 206
    assert part.content + rest.content == whole.content
    size = len(whole.content)
    assert part.headers["content-range"] == f"bytes 0-99/{size}"
    r = await client.get(link, headers={**tenant_a.auth(), "Range": f"bytes={size}-"})
    assert r.status_code == 416
    assert b"a.example/j" not in whole.content  # compressed; the content is checked below
    with tarfile.open(fileobj=io.BytesIO(whole.content)) as data:
        names = [m.name for m in data.getmembers()]
        blob = b"".join(
            data.extractfile(n).read()  # type: ignore[union-attr]
            for n in names
            if n.endswith(".ndjson")
        )
    assert "manifest.json" in names and b"a.example/j" in blob
    assert tenant_b.prefix.encode() + b"/" not in blob


async def test_suspended_tenant_still_exports_and_expired_link_is_gone(client, tenant_a):
    from datetime import UTC, datetime, timedelta

    from core.tenancy import tenant_transaction
    from tenants.accounts.services.tenants import set_status
    from tenants.ownership import jobs
    from tenants.ownership.tables import TenantExport

    await set_status(tenant_a.prefix, "suspended", actor="staff:test", reason="unpaid invoice")
    r = await client.post("/api/exports", headers=tenant_a.auth())
    assert r.status_code == 202, r.text
    await jobs.wait_local()
    body = (await client.get(f"/api/exports/{r.json()['id']}", headers=tenant_a.auth())).json()
    assert body["status"] == "done" and body["download"]
    async with tenant_transaction(tenant_a.id):
        past = datetime.now(UTC) - timedelta(seconds=1)
        await (
            TenantExport.update({TenantExport.expires_at: past})
            .where(TenantExport.tenant_id == tenant_a.id)
            .run()
        )
    r = await client.get(body["download"], headers=tenant_a.auth())
    assert r.status_code == 404
    again = (await client.get(f"/api/exports/{body['id']}", headers=tenant_a.auth())).json()
    assert again["status"] == "expired" and again["download"] is None
