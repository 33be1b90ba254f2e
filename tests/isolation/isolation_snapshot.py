"""Every row tenant B owns, as text, to compare before and after A's attempts.

The tables come from core/tenancy.py, the one declaration of what a tenant owns: each
tenant table's rows with B's ``tenant_id``, and, for the node-wide tables, the rows that
are B's another way (B itself, B's members and their tokens, the application B came
from). Every node-wide table is placed below, so a new one cannot slip by. Under
row-level security the rows are read on a cross-tenant path: outside one the snapshot
would see nothing and prove nothing.
"""

from __future__ import annotations

from typing import Any

# Rows that legitimately move when anyone resolves B's public identifiers.
MOVES_BY_DESIGN = {
    "resolution_counts": "public resolutions of B's identifiers count toward B's usage",
    "usage_ledger": "public resolutions of B's identifiers count toward B's usage",
}
# Node-wide tables that hold nothing of any tenant.
NOTHING_OF_B = {
    "migration": "Piccolo's record of applied migrations",
    "scheduled_jobs": "periodic jobs of the node (one run per period for all tenants)",
    "escrow_sets": "the node's escrow sets: files of the whole node, no row of a tenant",
    "escrow_changes": (
        "the change log names changed rows by table and id and holds no data; a change "
        "to B's rows shows in B's own tables, which the snapshot reads"
    ),
    "node_profile": "the node operator's profile (the node's, not a tenant's)",
    "template_requests": "the node's requests for industry templates from the top-level node",
    "resolution_log": "anyone's public resolutions, B's among them: they move by design",
    "probe_results": "the node's prober: its own canary resolutions",
    "door_minutes": "per-door traffic of the whole node, no tenant",
    "maintenance_windows": "the node's maintenance",
    "abnormal_events": "the node's incidents, by door",
    "billing_plans": "the node's price list; which plan B is on is billing_subscriptions",
    "audit_head": "the head of the node's one audit chain: a number and a hash, no tenant's",
    "oauth_signing_keys": "the node's token-signing keys; B's clients are oauth_clients",
}


def _node_rows(b: int) -> dict[str, str]:
    """WHERE clauses for B's rows in the node-wide tables."""
    users = f'SELECT "user" FROM memberships WHERE tenant_id = {b}'
    return {
        "tenants": f"id = {b}",
        "users": f"id IN ({users})",
        "onboarding_user_totp": f"user_id IN ({users})",
        "onboarding_uploads": f"user_id IN ({users})",
        "onboarding_email_tokens": f"user_id IN ({users})",
        "onboarding_applications": f"approved_tenant_id = {b}",
        "tenant_closures": f"tenant_ref = {b}",
        # A staff import names the prefix it made (the tenant did not exist before it).
        "tenant_imports": f"prefix = (SELECT prefix FROM tenants WHERE id = {b})",
        "stripe_webhook_events": f"tenant_ref = {b}",
    }


async def _raw(sql: str) -> list[dict[str, Any]]:
    from core.tables import AuditLog

    return list(await AuditLog.raw(sql).run())


def plan(b: int) -> dict[str, str]:
    """Table -> WHERE clause selecting B's rows; fails on a node table placed nowhere."""
    from core.tenancy import NODE_TABLES, TENANT_COLUMN, TENANT_TABLES

    where = {
        t.name: f'"{TENANT_COLUMN}" = {b}' for t in TENANT_TABLES if t.name not in MOVES_BY_DESIGN
    }
    node = _node_rows(b)
    unplaced = {t.name for t in NODE_TABLES} - set(node) - set(NOTHING_OF_B)
    assert not unplaced, (
        f"node-wide tables (core/tenancy.py) this snapshot does not place: {sorted(unplaced)}; "
        "say which of their rows are a tenant's, or that none are"
    )
    return {**where, **node}


async def snapshot(where: dict[str, str]) -> dict[str, list[str]]:
    from core import audit
    from core.tenancy import cross_tenant

    # Link the audit entries written so far (PostgreSQL links them moments after the
    # write): a link made during the sweep is not a change to B's data.
    await audit.seal()
    out = {}
    async with cross_tenant("maintenance"):
        for table, clause in sorted(where.items()):
            rows = await _raw(f'SELECT * FROM "{table}" WHERE {clause}')
            out[table] = sorted(repr(sorted(r.items())) for r in rows)
    assert out.get("identifiers"), "B has identifiers: a snapshot without them saw nothing"
    return out


def diff(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
    changed = []
    for table in sorted(set(before) | set(after)):
        old, new = set(before.get(table, [])), set(after.get(table, []))
        changed += [f"{table}: - {row[:300]}" for row in sorted(old - new)]
        changed += [f"{table}: + {row[:300]}" for row in sorted(new - old)]
    return changed
