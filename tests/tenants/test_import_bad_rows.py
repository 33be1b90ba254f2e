"""An archive whose signature and hashes hold can still carry rows this node must not
take: a line that is not JSON, a field of the wrong type, a record under another
tenant's prefix, the same record twice. The signer vouches for the bytes, not for them.
Each is refused with ArchiveInvalid naming the part, and nothing is written: no tenant,
no record, and the other tenant's names untouched."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from node_support import as_node

from core import crypto
from tenants.ownership.services import archive
from tenants.ownership.services.erasure import erase_tenant, release_prefix
from tenants.ownership.services.export import export_tenant
from tenants.ownership.services.importer import import_archive

IDNEST = str(Path(sys.executable).with_name("idnest"))
pytestmark = pytest.mark.anyio
JSON = {"Content-Type": "application/json"}
Lines = list[bytes]


def _resigned(src: Path, dst: Path, part: str, change: Callable[[Lines], Lines]) -> None:
    """``src`` with one part's lines changed, its manifest entry brought up to date and
    signed again by this node's key: an archive that passes ``verify``."""
    with tarfile.open(src) as t:
        files = {m.name: t.extractfile(m).read() for m in t.getmembers()}  # type: ignore[union-attr]
    lines = files[part].splitlines(keepends=True)
    files[part] = b"".join(change(lines))
    manifest = json.loads(files[archive.MANIFEST])
    for entry in manifest["files"]:
        if entry["name"] == part:
            entry["rows"] = files[part].count(b"\n")
            entry["sha256"] = hashlib.sha256(files[part]).hexdigest()
    body = json.dumps(manifest, indent=2, sort_keys=True).encode()
    files[archive.MANIFEST] = body
    files[archive.SIGNATURE] = crypto.sign(body).encode("ascii")
    with tarfile.open(dst, "w:gz") as out:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))


def _edit_record(field: str, value: object) -> Callable[[Lines], Lines]:
    def change(lines: Lines) -> Lines:
        row = json.loads(lines[0])
        row[field] = value
        return [json.dumps(row).encode() + b"\n", *lines[1:]]

    return change


CASES = {
    "not-json": ("identifiers.ndjson", lambda lines: [*lines, b'{"handle": \n']),
    "wrong-type": ("identifiers.ndjson", _edit_record("created_at", 12345)),
    "not-a-time": ("identifiers.ndjson", _edit_record("updated_at", "yesterday")),
    "bad-values": ("identifiers.ndjson", _edit_record("values", [{"index": "one"}])),
    "no-handle": ("identifiers.ndjson", _edit_record("handle", None)),
    "twice": ("identifiers.ndjson", lambda lines: [*lines, lines[0]]),
    "audit-time": ("audit_log.ndjson", _edit_record("created_at", "not a time")),
}


@pytest.mark.parametrize("case", [*CASES, "other-tenant"])
async def test_a_signed_archive_with_a_bad_row_is_refused_and_leaves_nothing(
    client, tenant_a, tenant_b, tmp_path, case
):
    from tenants.accounts.services.tenants import find_by_prefix
    from tenants.identifiers.tables import Identifier

    for t, name in ((tenant_a, "R-1"), (tenant_a, "R-2"), (tenant_b, "THEIRS")):
        r = await client.put(
            f"/api/handles/{t.prefix}/{name}",
            json=[{"index": 1, "type": "URL", "data": f"https://{name.lower()}.example"}],
            headers={**t.auth(), **JSON},
        )
        assert r.status_code in (200, 201), r.text
    good = tmp_path / "good.tar.gz"
    await export_tenant(tenant_a.id, good)
    if case == "other-tenant":  # a record of tenant B's, smuggled in under A's archive
        part, change = "identifiers.ndjson", _edit_record("handle", f"{tenant_b.prefix}/THEIRS")
    else:
        part, change = CASES[case]
    bad = tmp_path / "bad.tar.gz"
    _resigned(good, bad, part, change)
    archive.verify(bad)  # the signature and every hash hold
    await erase_tenant(tenant_a.prefix, actor="test", reason="make the prefix free")
    await release_prefix(tenant_a.prefix, actor="test", reason="make the prefix free")

    with pytest.raises(archive.ArchiveInvalid) as refused:
        await import_archive(bad, actor="test")
    assert refused.value.detail.startswith(part), refused.value.detail

    assert await find_by_prefix(tenant_a.prefix) is None, "no tenant left behind"
    async with as_node():
        mine = await Identifier.count().where(
            Identifier.handle.is_in([f"{tenant_a.prefix}/R-1", f"{tenant_a.prefix}/R-2"])
        )
        theirs = await Identifier.select(Identifier.tenant_id).where(
            Identifier.handle == f"{tenant_b.prefix}/THEIRS"
        )
    assert mine == 0
    assert [r["tenant_id"] for r in theirs] == [tenant_b.id]
    r = await client.get(f"/api/handles/{tenant_b.prefix}/THEIRS")
    assert r.json()["values"][0]["data"]["value"] == "https://theirs.example"


async def test_the_cli_names_the_bad_row_without_a_traceback(tenant_a, tmp_path, client):
    r = await client.put(
        f"/api/handles/{tenant_a.prefix}/C-1",
        json=[{"index": 1, "type": "URL", "data": "https://c.example"}],
        headers={**tenant_a.auth(), **JSON},
    )
    assert r.status_code in (200, 201), r.text
    good = tmp_path / "good.tar.gz"
    await export_tenant(tenant_a.id, good)
    bad = tmp_path / "bad.tar.gz"
    _resigned(good, bad, "identifiers.ndjson", lambda lines: [*lines, b"not json\n"])
    await erase_tenant(tenant_a.prefix, actor="test", reason="make the prefix free")
    await release_prefix(tenant_a.prefix, actor="test", reason="make the prefix free")
    env = {**os.environ, "IDNEST_LOG_LEVEL": "WARNING"}  # this run's database and key
    done = subprocess.run([IDNEST, "import", str(bad)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2, done.stderr[-2000:]
    assert "error: identifiers.ndjson: a line is not a valid row" in done.stderr
    assert "Traceback" not in done.stderr
