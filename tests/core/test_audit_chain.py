"""The audit log is a hash chain: `idnest audit verify` holds on an honest log and names
the first broken entry after an edit or a removal; SQLite refuses UPDATE and DELETE."""

from __future__ import annotations

import os
import sqlite3
import subprocess

import pytest
import smoke_support
from smoke_support import IDNEST

pytestmark = pytest.mark.skipif(
    os.environ.get("IDNEST_TEST_PROFILE") == "postgres", reason="reads the SQLite file"
)


def _verify(workdir: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([IDNEST, "audit", "verify"], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


@pytest.fixture
def node(tmp_workdir):
    env = smoke_support.node_env(tmp_workdir)
    prefix = smoke_support.run_cli(tmp_workdir, env, "tenant", "create", "--name", "Chain Co")
    for _ in range(3):
        smoke_support.run_cli(tmp_workdir, env, "apikey", "create", "--tenant", prefix)
    db = os.path.join(tmp_workdir, "var", "idnest.sqlite3")
    return tmp_workdir, env, db


def _untriggered(db: str) -> sqlite3.Connection:
    c = sqlite3.connect(db)
    names = c.execute(
        "select name from sqlite_master where type='trigger' and tbl_name='audit_log'"
    )
    for (name,) in names.fetchall():
        c.execute(f"drop trigger {name}")
    return c


def test_an_honest_log_verifies(node):
    workdir, env, db = node
    out = _verify(workdir, env)
    assert out.returncode == 0 and "holds" in out.stdout, out.stderr
    with sqlite3.connect(db) as c:
        rows = c.execute("select seq, prev_hash, hash from audit_log order by id").fetchall()
    assert len(rows) >= 5 and [r[0] for r in rows] == list(range(1, len(rows) + 1))
    assert all(rows[i][1] == rows[i - 1][2] for i in range(1, len(rows)))


def test_the_application_cannot_edit_or_delete_entries(node):
    _, _, db = node
    with sqlite3.connect(db) as c:
        for sql in ("update audit_log set actor = 'me'", "delete from audit_log"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                c.execute(sql)


def test_an_edited_entry_is_named(node):
    workdir, env, db = node
    c = _untriggered(db)
    target = c.execute("select min(id) + 2 from audit_log").fetchone()[0]
    c.execute('update audit_log set detail = \'{"scopes":"write"}\' where id = ?', (target,))
    c.commit()
    out = _verify(workdir, env)
    assert out.returncode != 0 and f"entry id {target}" in out.stderr, out.stderr


def test_a_removed_entry_breaks_the_next_link(node):
    workdir, env, db = node
    c = _untriggered(db)
    target = c.execute("select min(id) + 1 from audit_log").fetchone()[0]
    c.execute("delete from audit_log where id = ?", (target,))
    c.commit()
    out = _verify(workdir, env)
    assert out.returncode != 0 and f"entry id {target + 1}" in out.stderr, out.stderr
    # removing the last entry shows too: the head names an entry that is gone
    c.execute("delete from audit_log where id = (select max(id) from audit_log)")
    c.commit()
    assert _verify(workdir, env).returncode != 0
