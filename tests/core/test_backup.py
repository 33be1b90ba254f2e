"""``idnest backup`` and ``idnest restore`` in real processes, on the profile under test:
a backup taken while the node serves restores exactly the identifiers it held (later
writes are gone), and files that are not a backup of this kind are refused by name."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
from smoke_support import IDNEST, empty_node, run_cli, serving

PROFILE = os.environ.get("IDNEST_TEST_PROFILE", "embedded")


def _put(base: str, key: str, handle: str, url: str) -> None:
    r = httpx.put(
        f"{base}/api/handles/{handle}",
        headers={"Authorization": f"Bearer {key}"},
        json={"values": [{"index": 1, "type": "URL", "data": url}]},
        timeout=10,
    )
    assert r.status_code in (200, 201), r.text


def _urls(base: str, handles: list[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for h in handles:
        body = httpx.get(f"{base}/api/handles/{h}", timeout=10).json()
        values = body.get("values") or []
        out[h] = next((v["data"]["value"] for v in values if v["type"] == "URL"), None)
    return out


def _idnest(
    work: Path, env: dict[str, str], *args: str, input: str = ""
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [IDNEST, *args], cwd=work, env=env, input=input, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def test_an_online_backup_restores_exactly_what_it_held(tmp_path: Path) -> None:
    work = tmp_path / "node"
    work.mkdir()
    with empty_node(work) as env:
        prefix = run_cli(str(work), env, "tenant", "create", "--name", "Backup Pumps").splitlines()[
            -1
        ]
        key = run_cli(
            str(work), env, "apikey", "create", "--tenant", prefix, "--scopes", "read,write"
        ).splitlines()[-1]
        kept = [f"{prefix}/PUMP-{n}" for n in range(3)]
        later = f"{prefix}/PUMP-LATER"
        backup_file = tmp_path / "node.backup"
        with serving(str(work), env) as base:
            for n, h in enumerate(kept):
                _put(base, key, h, f"https://example.com/pump/{n}")
            # Taken while the node serves: the copy is consistent without stopping it.
            out = run_cli(str(work), env, "backup", str(backup_file))
            assert Path(out.splitlines()[-1]) == backup_file.resolve()
            _put(base, key, later, "https://example.com/later")
            _put(base, key, kept[0], "https://example.com/changed")
            assert _urls(base, [later, kept[0]]) == {
                later: "https://example.com/later",
                kept[0]: "https://example.com/changed",
            }
        restored = _idnest(work, env, "restore", "--yes", str(backup_file))
        assert restored.returncode == 0, restored.stderr
        with serving(str(work), env) as base:
            want = {h: f"https://example.com/pump/{n}" for n, h in enumerate(kept)}
            assert _urls(base, kept) == want
            assert httpx.get(f"{base}/api/handles/{later}", timeout=10).status_code == 404
            # The restored node still takes writes (sequences and keys came back too).
            _put(base, key, f"{prefix}/PUMP-AFTER", "https://example.com/after")


def test_restore_refuses_what_is_not_a_backup_of_this_node(tmp_path: Path) -> None:
    work = tmp_path / "node"
    work.mkdir()
    with empty_node(work) as env:
        run_cli(str(work), env, "migrate")
        junk = tmp_path / "junk.bin"
        junk.write_bytes(b"not a backup at all")
        r = _idnest(work, env, "restore", "--yes", str(junk))
        assert r.returncode == 2 and "is not an idnest backup" in r.stderr
        other = tmp_path / "other-kind"
        other.write_bytes(
            b"PGDMP" if PROFILE != "postgres" else b"SQLite format 3\x00" + bytes(100)
        )
        r = _idnest(work, env, "restore", "--yes", str(other))
        assert r.returncode == 2 and "backup; this node runs on" in r.stderr
        r = _idnest(work, env, "backup", str(tmp_path / "no-such-dir" / "x.backup"))
        assert r.returncode == 2 and "does not exist" in r.stderr
        r = _idnest(work, env, "restore", str(junk), input="n\n")
        assert r.returncode != 0 and "Aborted" in r.stderr
