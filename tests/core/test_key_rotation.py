"""Rotating the personal-data key: old ciphertexts stay readable, new ones use the new
key, and `idnest keys rotate` re-encrypts what exists (and is audited)."""

from __future__ import annotations

import json
import sqlite3

import pytest
import smoke_support

from core import crypto
from core.settings import reset_settings


@pytest.fixture
def ring(tmp_path, monkeypatch):
    monkeypatch.setenv("IDNEST_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("IDNEST_SECRET_KEY", "k" * 48)
    monkeypatch.delenv("IDNEST_PII_KEYS", raising=False)
    reset_settings()
    crypto._ring = None
    yield tmp_path
    crypto._ring = None
    reset_settings()


def test_old_ciphertexts_stay_readable_after_rotation(ring):
    before_ring = crypto._derived().encrypt(b"110101199003074477").decode()  # no key id
    under_k0 = crypto.encrypt("13800138000")
    assert under_k0.startswith("k0:")
    assert crypto.add_key() == "k1"
    assert crypto.decrypt(before_ring) == "110101199003074477"
    assert crypto.decrypt(under_k0) == "13800138000"
    fresh = crypto.encrypt("new")
    assert fresh.startswith("k1:") and crypto.decrypt(fresh) == "new"
    assert crypto.add_key() == "k2" and crypto.decrypt(fresh) == "new"
    assert (ring / "pii_keys.json").stat().st_mode & 0o077 == 0


def test_a_ciphertext_no_key_opens_reads_as_none(ring):
    assert crypto.decrypt("k9:gAAAAA") is None and crypto.decrypt("garbage") is None


@pytest.mark.skipif("os.environ.get('IDNEST_TEST_PROFILE') == 'postgres'")
def test_keys_rotate_reencrypts_what_exists(tmp_workdir):
    env = smoke_support.node_env(tmp_workdir, secret_key="s" * 48)
    smoke_support.run_cli(tmp_workdir, env, "tenant", "create", "--name", "Keys Co")
    db = f"{tmp_workdir}/var/idnest.sqlite3"
    old = (
        crypto.Fernet(
            crypto.base64.urlsafe_b64encode(
                crypto.hashlib.sha256(b"idnest:pii:v1\0" + b"s" * 48).digest()
            )
        )
        .encrypt(b"110101199003074477")
        .decode()
    )
    with sqlite3.connect(db) as c:
        c.execute(
            "insert into onboarding_user_totp (user_id, secret_enc, enabled, created_at) "
            "values (1, ?, 0, '2026-12-01T00:00:00+00:00')",
            (old,),
        )
    out = json.loads(smoke_support.run_cli(tmp_workdir, env, "keys", "rotate"))
    assert out["key"] == "k1" and out["onboarding_user_totp"] == {"reencrypted": 1, "unreadable": 0}
    with sqlite3.connect(db) as c:
        (token,) = c.execute("select secret_enc from onboarding_user_totp").fetchone()
        (action,) = c.execute("select action from audit_log order by id desc").fetchone()
    assert token.startswith("k1:") and action == "keys.rotate"
    again = json.loads(smoke_support.run_cli(tmp_workdir, env, "keys", "rotate"))
    assert again["key"] == "k2" and again["onboarding_user_totp"]["reencrypted"] == 1
    assert smoke_support.run_cli(tmp_workdir, env, "audit", "verify").startswith(
        "audit chain holds"
    )
