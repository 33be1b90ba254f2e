"""Find every message id the portal uses, for the catalogues and their completeness test.

Templates call ``_("...")``; Python code passes ids to ``_()``, ``flash()``, the form
checks' ``fail()`` and ``page(title=..., message=...)``. Dynamic ids (``status.*``,
``role.*``...) are listed here. Run ``python -m portal.i18n_extract`` to print ids the
Chinese catalogue lacks.
"""

from __future__ import annotations

import re
from pathlib import Path

from core.i18n import load_catalogue

ROOT = Path(__file__).resolve().parent
PROJECT = ROOT.parent
_TEMPLATE = re.compile(r"""_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")
_PYTHON = re.compile(
    r"""(?:\b_\(|flash\(request,\s*|fail\(\s*"?\w*"?,\s*|fail\(\s*\w+,\s*|title=|message=|"""
    r"""msg = \(|else |msgid = |return )"([A-Z0-9{][^"\\]*[.!?:]?)\"""",
)
_CODE_MESSAGES = re.compile(r'^\s+"\w+": "([A-Z][^"]+)",$', re.M)
DYNAMIC = [
    # "approving" is no longer written, but rows left in it by older nodes still show.
    *(
        f"status.{s}"
        for s in ("draft", "submitted", "in_review", "approving", "approved", "rejected")
    ),
    *(
        f"role.{r}"
        for r in ("admin", "reviewer", "operator", "finance", "owner", "developer", "viewer")
    ),
    *(f"tenant.{s}" for s in ("pending", "active", "suspended", "closed")),
    *(f"action.{s}" for s in ("active", "suspended", "closed")),
    *(
        f"check.{c}"
        for c in ("credit_code", "duplicate", "resident_id", "name", "address", "preferred_code")
    ),
    *(f"batch.mode.{m}" for m in ("create", "upsert", "update", "status")),
    *(
        f"lifecycle.status.{s}"
        for s in ("active", "suspended", "revoked", "expired", "not_yet_valid")
    ),
    *(f"lifecycle.policy.{p}" for p in ("refuse", "serve")),
    *(f"request.{s}" for s in ("queued", "sent", "refused")),
    *(f"batch.status.{s}" for s in ("queued", "running", "done", "failed")),
    *(f"scheme.{s}" for s in ("gs1", "ecode", "vaa", "oid")),
    *(f"ns.{s}" for s in ("pending", "verified", "rejected")),
    *(f"ns.action.{a}" for a in ("verify", "reject")),
    *(f"invoice.{s}" for s in ("issued", "paid", "overdue", "void")),
    # billing_staff.py passes these to flash() through its _do helper
    "The plan has been created.",
    "The plan has been changed.",
    "The tenant's plan has been set.",
    "The invoice has been voided.",
    "The credit note has been issued.",
]
PY_FILES = [
    *sorted((ROOT / "web").glob("*.py")),
    PROJECT / "tenants" / "onboarding" / "services" / "validation.py",
    PROJECT / "tenants" / "onboarding" / "services" / "applications.py",
    PROJECT / "tenants" / "onboarding" / "services" / "profile.py",
]


def msgids() -> set[str]:
    found: set[str] = set(DYNAMIC)
    for path in (ROOT / "templates").rglob("*.html"):
        for a, b in _TEMPLATE.findall(path.read_text(encoding="utf-8")):
            found.add(a or b)
    for path in PY_FILES:
        text = path.read_text(encoding="utf-8")
        found.update(m for m in _PYTHON.findall(text) if " " in m or m.endswith("."))
        found.update(_CODE_MESSAGES.findall(text))
    return {m for m in found if m and not re.fullmatch(r"[a-z][a-z.]*\.", m)}


def missing(lang: str = "zh_CN") -> list[str]:
    table = load_catalogue(str(ROOT / "locale"), lang)
    return sorted(m for m in msgids() if m not in table)


if __name__ == "__main__":  # pragma: no cover
    for m in missing():
        print(m)
