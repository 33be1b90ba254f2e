"""Row-level security on PostgreSQL, generated from core/tenancy.py.

Every declared tenant table gets RLS enabled and forced (so the tables' owner is held to
it as well) and these permissive policies, which PostgreSQL ORs per command:

- ``idnest_tenant``: rows of the transaction's tenant, ``tenant_id =
  current_setting('app.tenant_id')``, for reading and writing. ``tenant_transaction``
  sets it with ``set_config(..., true)``, so it ends with the transaction;
- ``idnest_node_rows`` (tables with ``shared_node_rows``): the node's own rows
  (``tenant_id`` NULL, e.g. node templates), readable by every tenant;
- ``idnest_partner_read`` (tables with ``readable_by``): rows naming the transaction's
  tenant in that column (a grant, read by its partner), for reading only;
- ``idnest_cross_read`` / ``idnest_cross_write``: every row, on a transaction whose
  ``app.cross_tenant`` names a declared cross-tenant path (writes: the paths that write).

Outside any transaction neither setting is set, so a tenant table shows no rows and
takes no writes. ``idnest migrate`` applies this after the migrations, whenever the
generated policies differ from the database's (a fingerprint is kept as the comment
of each ``idnest_tenant`` policy), and grants the application role its privileges.
"""

from __future__ import annotations

import hashlib
from typing import Any

from core.tenancy import (
    CROSS_SETTING,
    CROSS_TENANT_PATHS,
    TENANT_COLUMN,
    TENANT_SETTING,
    TENANT_TABLES,
    TenantTable,
)


def _setting(name: str) -> str:
    # missing_ok: never set in this session reads NULL; set earlier in a transaction
    # that ended reads '' (nullif makes both NULL, which matches no row).
    return f"nullif(current_setting('{name}', true), '')"


def _paths(write: bool) -> str:
    names = [n for n, (writes, _) in CROSS_TENANT_PATHS.items() if writes or not write]
    return ", ".join(f"'{n}'" for n in sorted(names))


def table_ddl(t: TenantTable) -> list[str]:
    name = f'"{t.name}"'
    mine = f"{TENANT_COLUMN} = {_setting(TENANT_SETTING)}::bigint"
    read = f"{_setting(CROSS_SETTING)} IN ({_paths(write=False)})"
    write = f"{_setting(CROSS_SETTING)} IN ({_paths(write=True)})"
    ddl = [
        f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY",
    ]
    policies = ("idnest_tenant", "idnest_node_rows", "idnest_partner_read", "idnest_cross_read",
                "idnest_cross_write")  # fmt: skip
    for policy in policies:
        ddl.append(f"DROP POLICY IF EXISTS {policy} ON {name}")
    ddl += [
        f"CREATE POLICY idnest_tenant ON {name} USING ({mine}) WITH CHECK ({mine})",
        f"CREATE POLICY idnest_cross_read ON {name} FOR SELECT USING ({read})",
        f"CREATE POLICY idnest_cross_write ON {name} USING ({write}) WITH CHECK ({write})",
    ]
    if t.readable_by:
        theirs = f"{t.readable_by} = {_setting(TENANT_SETTING)}::bigint"
        ddl.append(f"CREATE POLICY idnest_partner_read ON {name} FOR SELECT USING ({theirs})")
    if t.shared_node_rows:
        ddl.append(
            f"CREATE POLICY idnest_node_rows ON {name} FOR SELECT USING ({TENANT_COLUMN} IS NULL)"
        )
    return ddl


def fingerprint() -> str:
    text = "\n".join(s for t in TENANT_TABLES for s in table_ddl(t))
    return "idnest-rls " + hashlib.sha256(text.encode()).hexdigest()[:16]


async def current(conn: Any) -> bool:
    """Whether every tenant table already has RLS forced and these very policies."""
    rows = await conn.fetch(
        "SELECT c.relname, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced, "
        "obj_description(p.oid, 'pg_policy') AS note FROM pg_class c "
        "LEFT JOIN pg_policy p ON p.polrelid = c.oid AND p.polname = 'idnest_tenant' "
        "WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = ANY($1::text[])",
        [t.name for t in TENANT_TABLES],
    )
    want = fingerprint()
    ok = {r["relname"] for r in rows if r["rls"] and r["forced"] and r["note"] == want}
    return ok == {t.name for t in TENANT_TABLES}


async def apply(conn: Any) -> None:
    """Enable, force and (re)create the policies, in the caller's transaction, so no
    other transaction ever sees a table between its old policies and its new ones."""
    note = fingerprint()
    for t in TENANT_TABLES:
        for sql in table_ddl(t):
            await conn.execute(sql)
        await conn.execute(f"COMMENT ON POLICY idnest_tenant ON \"{t.name}\" IS '{note}'")


async def grant_app_role(conn: Any, role: str) -> None:
    """What the application role may do: read and write rows (as the policies allow),
    use the sequences. It owns nothing, so it can neither alter a table nor turn RLS
    off, and it is refused if it could bypass RLS."""
    flags = await conn.fetchrow(
        "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1", role
    )
    if flags is None:
        raise RuntimeError(f"no role {role!r}: run `idnest db create-app-role` first")
    if flags["rolsuper"] or flags["rolbypassrls"]:
        raise RuntimeError(f"role {role!r} bypasses row-level security; it cannot be the app's")
    quoted = '"' + role.replace('"', '""') + '"'
    await conn.execute(f"GRANT USAGE ON SCHEMA public TO {quoted}")
    await conn.execute(
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}"
    )
    await conn.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}")
    # The audit log is append-only for the application (core/audit.py): entries are
    # inserted, never removed, and of an entry only the link columns may be written,
    # once (the trigger audit_log_link_once refuses an update of a linked entry).
    await conn.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM {quoted}")
    await conn.execute(f"GRANT UPDATE (seq, prev_hash, hash) ON audit_log TO {quoted}")


async def create_app_role(conn: Any, role: str, password: str | None) -> None:
    """Create the application's role if it does not exist: LOGIN, and nothing more.

    Roles are cluster-wide and several installs (or test runs) may create the same one
    at once: a concurrent CREATE ROLE fails with duplicate_object or, when both pass the
    existence check together, unique_violation; both mean it exists now. An existing
    role is then made to log in without superuser or BYPASSRLS.
    """
    quoted = '"' + role.replace('"', '""') + '"'
    secret = "" if password is None else " PASSWORD " + _literal(password)
    await conn.execute(
        "DO $$ BEGIN "
        f"CREATE ROLE {quoted} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS{secret}; "
        "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
    )
    flags = await conn.fetchrow(
        "SELECT rolcanlogin, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1", role
    )
    # Only when needed: concurrent ALTER ROLEs of one role fail ("tuple concurrently updated").
    if secret or not flags["rolcanlogin"] or flags["rolsuper"] or flags["rolbypassrls"]:
        await conn.execute(f"ALTER ROLE {quoted} LOGIN NOSUPERUSER NOBYPASSRLS{secret}")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
