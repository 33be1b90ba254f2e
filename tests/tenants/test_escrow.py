"""Escrow sets (docs/escrow.md): a DIFF carries creates, updates and deletes in commit
order; a changed, missing or foreign file is refused; uploads are retried, never skipped."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
from pathlib import Path

import pytest
from escrow_support import KEY, delete, escrow_settings, lines, put_url
from node_support import as_node

pytestmark = pytest.mark.anyio


def _puts(set_dir: Path) -> dict[str, str]:
    out = {}
    for item in lines(set_dir, "identifiers"):
        if item["op"] == "put":
            values = item["row"]["values"]
            values = json.loads(values) if isinstance(values, str) else values
            # A FULL holds the whole node: other tests' records may have no URL.
            url = next((v["data"]["value"] for v in values if v["type"] == "URL"), None)
            if url is not None:
                out[item["row"]["handle"]] = url
    return out


async def _id_of(handle: str) -> int:
    from tenants.identifiers.tables import Identifier

    async with as_node():
        row = await Identifier.select(Identifier.id).where(Identifier.handle == handle).first()
    assert row
    return int(row["id"])


async def test_diff_carries_creates_updates_and_deletes(client, tenant_a, settings, tmp_path):
    from tenants.escrow.services import sets

    s = escrow_settings(settings)
    p = tenant_a.prefix
    for n in (1, 2, 3):
        await put_url(client, tenant_a, f"{p}/E-{n}", f"https://example.com/{n}")
    full = await sets.run(s, full=True, out=tmp_path)
    assert full.kind == "full"
    assert _puts(full.path)[f"{p}/E-2"] == "https://example.com/2"
    gone = await _id_of(f"{p}/E-2")

    await put_url(client, tenant_a, f"{p}/E-1", "https://example.com/1-new")
    await delete(client, tenant_a, f"{p}/E-2")
    await put_url(client, tenant_a, f"{p}/E-4", "https://example.com/4")
    diff = await sets.run(s, out=tmp_path)

    assert diff.kind == "diff" and diff.changes >= 3
    puts = _puts(diff.path)
    assert puts == {f"{p}/E-1": "https://example.com/1-new", f"{p}/E-4": "https://example.com/4"}
    assert {"op": "delete", "id": gone} in lines(diff.path, "identifiers")
    manifest = json.loads((diff.path / "manifest.json").read_text())
    assert manifest["base"] == full.name and manifest["kind"] == "diff"
    # Nothing changed since: the next DIFF is empty, not a repeat.
    again = await sets.run(s, out=tmp_path)
    assert _puts(again.path) == {} and again.changes == 0


def _refused(directory: Path, key: str = KEY) -> str:
    from tenants.escrow.services.restore import chain
    from tenants.escrow.services.sealed import EscrowRefused

    with pytest.raises(EscrowRefused) as caught:
        chain(directory, base64.b64decode(key))
    return caught.value.detail


async def test_tampered_missing_or_foreign_sets_are_refused(client, tenant_a, settings, tmp_path):
    from tenants.escrow.services import sets
    from tenants.escrow.services.restore import chain

    s = escrow_settings(settings)
    await put_url(client, tenant_a, f"{tenant_a.prefix}/T-1", "https://example.com/t")
    good = tmp_path / "good"
    full = await sets.run(s, full=True, out=good)
    await put_url(client, tenant_a, f"{tenant_a.prefix}/T-2", "https://example.com/t2")
    d1 = await sets.run(s, out=good)
    await sets.run(s, out=good)
    assert len(chain(good, base64.b64decode(KEY))) == 3

    def variant(name: str) -> Path:
        path = tmp_path / name
        shutil.copytree(good, path)
        return path

    flipped = variant("flipped")
    target = flipped / full.name / "identifiers.ndjson"
    data = bytearray(target.read_bytes())
    data[-5] ^= 1
    target.write_bytes(bytes(data))
    assert "changed" in _refused(flipped)

    removed = variant("removed")
    (removed / full.name / "tenants.ndjson").unlink()
    assert "missing" in _refused(removed)

    edited = variant("edited")
    manifest = edited / full.name / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"kind": "full"', '"kind": "fulL"'))
    assert "manifest" in _refused(edited)

    gap = variant("gap")
    shutil.rmtree(gap / d1.name)
    assert "missing" in _refused(gap)

    other_key = base64.b64encode(b"k" * 32).decode()
    assert "escrow key" in _refused(good, other_key)


async def test_failed_upload_is_retried_and_sets_go_in_order(client, tenant_a, settings, tmp_path):
    from fakes.toplevel import FakeTopLevelNode

    from core.errors import UpstreamError
    from core.tables import EscrowSet
    from tenants.escrow.services import sets, upload

    with FakeTopLevelNode(token="tok") as top:
        s = escrow_settings(settings, upstream_url=top.url, upstream_token="tok",
                            upstream_attempts=1, upstream_retry_wait=0.0)  # fmt: skip
        await EscrowSet.update({EscrowSet.status: "uploaded"}, force=True).where(
            EscrowSet.status == "written"
        )
        first = await sets.run(s, full=True, out=tmp_path)
        await put_url(client, tenant_a, f"{tenant_a.prefix}/U-1", "https://example.com/u")
        second = await sets.run(s, out=tmp_path)
        top.fail_next = 1
        with pytest.raises(UpstreamError):
            await upload.upload_pending(s)
        row = await EscrowSet.select().where(EscrowSet.name == first.name).first()
        assert row["status"] == "written" and row["attempts"] == 1 and "503" in row["last_error"]
        assert not top.escrow

        assert await upload.upload_pending(s) == 2
        sent = [key[1] for key in top.escrow]
        assert sent.index(first.name) < sent.index(second.name)
        for info in (first, second):
            for path in info.path.iterdir():
                stored = top.escrow[(s.node_prefix, info.name, path.name)]
                assert stored == path.read_bytes()
        last = [k[2] for k in top.escrow if k[1] == second.name][-2:]
        assert last == ["manifest.sig", "manifest.json"]
        assert await upload.upload_pending(s) == 0


def test_schedule_is_full_weekly_and_diff_daily_by_default(settings):
    from core.scheduler import registered
    from portal import jobs  # noqa: F401 - registers every job

    by_name = {j.name: j for j in registered()}
    keyed = escrow_settings(settings, upstream_url="http://top.example")
    assert by_name["escrow-full"].every(keyed) == 7 * 86400
    assert by_name["escrow-diff"].every(keyed) == 86400
    assert by_name["escrow-upload"].every(keyed) > 0
    unkeyed = settings.model_copy(update={"escrow_key": ""})
    assert by_name["escrow-diff"].every(unkeyed) == 0


async def test_a_change_committed_after_a_set_is_in_the_next_one(client, tenant_a, settings,
                                                                  tmp_path):  # fmt: skip
    """Commit order, not id order: a transaction that wrote before a set was read but
    committed after it is carried by the next set (PostgreSQL; SQLite serialises)."""
    from piccolo.engine.postgres import PostgresEngine

    from core import db
    from core.tenancy import tenant_transaction
    from tenants.escrow.services import sets
    from tenants.identifiers.tables import Identifier

    if not isinstance(db.engine(), PostgresEngine):
        pytest.skip("SQLite writers are serialised: commit order is id order")
    s = escrow_settings(settings)
    h = f"{tenant_a.prefix}/LATE-1"
    await put_url(client, tenant_a, h, "https://example.com/early")
    await sets.run(s, full=True, out=tmp_path)
    wrote, release = asyncio.Event(), asyncio.Event()

    async def slow_writer() -> None:
        async with tenant_transaction(tenant_a.id):
            await Identifier.update({Identifier.version: Identifier.version + 1}).where(
                Identifier.handle == h
            )
            wrote.set()
            await release.wait()

    task = asyncio.create_task(slow_writer())
    await wrote.wait()
    # A later transaction commits first.
    await put_url(client, tenant_a, f"{tenant_a.prefix}/LATE-2", "https://example.com/other")
    during = await sets.run(s, out=tmp_path)
    release.set()
    await task
    after = await sets.run(s, out=tmp_path)
    assert h not in _puts(during.path)
    assert h in _puts(after.path)
