"""Citus: the distribution DDL and the readiness check, both from core/tenancy.py.

When one PostgreSQL primary is not enough, every tenant table is distributed by
``tenant_id`` (all in one colocation group: the same column type, the same shard count)
and every node-wide table becomes a reference table, copied to every worker.
``idnest db citus-ddl`` prints the statements; docs/scaling.md says how to use them.

Citus refuses, on a distributed table, a primary key or unique key that leaves the
distribution column out, a foreign key to another distributed table that does not
include it on both sides, a NULL in it, and a foreign key from a reference table to a
distributed one. ``violations(shape)`` lists every such thing in a schema read from the
database (``read_schema``), as stable strings. ``CITUS_GAPS`` are the ones known today,
each with its reason; tests/core/test_citus.py fails on one not listed there and on a
listed one that is gone, so the list can only shrink.

Two kinds are not fixed in the migrated schema but by ``prepare_ddl`` at cutover:
Piccolo has no composite primary keys, so every table keeps ``PRIMARY KEY (id)`` and
the preparation turns it into ``(tenant_id, id)`` and re-points the foreign keys
between tenant tables at it. The PostgreSQL profile of the tests applies that
preparation to the real migrated schema (in a transaction it rolls back) and checks
that those violations are gone.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from core.tenancy import NODE_TABLES, TENANT_COLUMN, TENANT_TABLES

_NULL_TENANT = (
    "rows without a tenant (the node's own) live here; a distribution column cannot be "
    "NULL. At cutover: move them to a reference table, or give the node a tenant id"
)
_NULL_PK = "follows from the NULL tenant_id: a primary key cannot include a NULL column"
_GLOBAL = (
    "a node-wide unique key (core/tenancy.py says why); Citus cannot enforce it across "
    "shards. At cutover: a reference table of the keys, written in the same transaction"
)

# What Citus would refuse in the schema after ``prepare_ddl``, each with its reason.
# tests/core/test_citus.py keeps this equal to what the check finds: fix one, delete
# its line. Never add a line to make a new table pass: give the table tenant_id.
CITUS_GAPS: dict[str, str] = {
    "api_keys: unique (key_id)": _GLOBAL,
    "oauth_clients: unique (client_id)": _GLOBAL,
    "audit_log: primary key (id)": _NULL_PK,
    "audit_log: tenant_id may be NULL": _NULL_TENANT,
    "bank_transfers: primary key (id)": _NULL_PK,
    "bank_transfers: tenant_id may be NULL": _NULL_TENANT,
    "bank_transfers: unique (bank_ref)": _GLOBAL,
    "billing_invoices: unique (number)": _GLOBAL,
    "bulk_jobs: unique (public_id)": _GLOBAL,
    "metadata_templates: primary key (id)": _NULL_PK,
    "metadata_templates: tenant_id may be NULL": _NULL_TENANT,
    "metadata_templates: unique (code, version)": _GLOBAL,
    "outbox: primary key (id)": _NULL_PK,
    "outbox: tenant_id may be NULL": _NULL_TENANT,
    "outbox: unique (dedupe_key)": _GLOBAL,
    "scheme_namespaces: unique (scheme, value)": _GLOBAL,
    "snms_accounts: unique (username)": _GLOBAL,
    "tenant_exports: unique (public_id)": _GLOBAL,
}


@dataclass
class TableShape:
    columns: dict[str, bool]  # name -> nullable
    primary_key: tuple[str, ...]
    uniques: list[tuple[str, ...]]  # unique keys other than the primary key
    # (constraint name, columns, referenced table, referenced columns)
    foreign_keys: list[tuple[str, tuple[str, ...], str, tuple[str, ...]]] = field(
        default_factory=list
    )


def _tenant_names() -> set[str]:
    return {t.name for t in TENANT_TABLES}


def distribution_order(shape: dict[str, TableShape] | None = None) -> list[str]:
    """Tenant tables, each after every tenant table it references (declared parents, and
    the foreign keys of ``shape`` when given), otherwise in declaration order."""
    tenant = [t.name for t in TENANT_TABLES]
    needs: dict[str, set[str]] = {t.name: {t.parent} if t.parent else set() for t in TENANT_TABLES}
    for name, s in (shape or {}).items():
        if name in needs:
            needs[name] |= {ref for _, _, ref, _ in s.foreign_keys if ref in needs and ref != name}
    out: list[str] = []
    while len(out) < len(tenant):
        ready = [n for n in tenant if n not in out and needs[n] <= set(out)]
        if not ready:
            raise ValueError(f"a foreign-key cycle among {sorted(set(tenant) - set(out))}")
        out.append(ready[0])
    return out


def distribution_ddl(shape: dict[str, TableShape] | None = None) -> list[str]:
    """Reference tables first (tenant tables reference ``tenants``), then the tenant
    tables in dependency order. They share one colocation group by Citus's default
    (``colocate_with => 'default'``: same column type, same shard count), which
    tests/core/test_citus.py checks holds: every ``tenant_id`` is an integer."""
    ref = [f"SELECT create_reference_table('{t.name}');" for t in NODE_TABLES]
    dist = [
        f"SELECT create_distributed_table('{name}', '{TENANT_COLUMN}');"
        for name in distribution_order(shape)
    ]
    return ref + dist


def _rekeyed(shape: dict[str, TableShape]) -> list[str]:
    """Tenant tables whose primary key (id) becomes (tenant_id, id): not those where
    tenant_id may be NULL, which a primary key cannot hold (a gap of its own)."""
    return [
        n for n in distribution_order(shape)
        if n in shape and TENANT_COLUMN in shape[n].columns and not shape[n].columns[TENANT_COLUMN]
        and shape[n].primary_key and TENANT_COLUMN not in shape[n].primary_key
    ]  # fmt: skip


def _rekeyed_fks(
    shape: dict[str, TableShape],
) -> list[tuple[str, str, tuple[str, ...], str, tuple[str, ...]]]:
    tenant = _tenant_names()
    return [
        (name, fk, cols, ref, ref_cols)
        for name in distribution_order(shape) if name in shape
        for fk, cols, ref, ref_cols in shape[name].foreign_keys
        if ref in tenant and TENANT_COLUMN not in cols
    ]  # fmt: skip


def prepared(shape: dict[str, TableShape]) -> dict[str, TableShape]:
    """``shape`` as ``prepare_ddl`` leaves it."""
    out = {n: replace(s, foreign_keys=list(s.foreign_keys)) for n, s in shape.items()}
    for name in _rekeyed(shape):
        out[name].primary_key = (TENANT_COLUMN, *shape[name].primary_key)
    for name, fk, cols, ref, ref_cols in _rekeyed_fks(shape):
        keys = out[name].foreign_keys
        keys[keys.index((fk, cols, ref, ref_cols))] = (
            fk, (TENANT_COLUMN, *cols), ref, (TENANT_COLUMN, *ref_cols)
        )  # fmt: skip
    return out


def prepare_ddl(shape: dict[str, TableShape]) -> list[str]:
    """Before distributing: primary keys ``(id)`` → ``(tenant_id, id)``, and foreign keys
    between tenant tables through ``tenant_id`` as well. Run on the coordinator, in one
    transaction, before ``distribution_ddl``. The foreign keys go first (they depend on
    the old primary keys) and come back last, pointing at the new ones."""
    drops: list[str] = []
    adds: list[str] = []
    for name, fk, cols, ref, ref_cols in _rekeyed_fks(shape):
        local = ", ".join((TENANT_COLUMN, *cols))
        remote = ", ".join((TENANT_COLUMN, *ref_cols))
        drops.append(f'ALTER TABLE "{name}" DROP CONSTRAINT "{fk}";')
        adds.append(
            f'ALTER TABLE "{name}" ADD CONSTRAINT "{fk}" FOREIGN KEY ({local}) '
            f'REFERENCES "{ref}" ({remote});'
        )
    keys = [
        f'ALTER TABLE "{name}" DROP CONSTRAINT "{name}_pkey", '
        f"ADD PRIMARY KEY ({', '.join((TENANT_COLUMN, *shape[name].primary_key))});"
        for name in _rekeyed(shape)
    ]
    return drops + keys + adds


def violations(shape: dict[str, TableShape]) -> list[str]:
    """Everything in ``shape`` that Citus would refuse once tenant tables are distributed
    by tenant_id and node tables are reference tables. Stable strings, sorted."""
    tenant = _tenant_names()
    found: list[str] = []
    for name in sorted(tenant):
        s = shape.get(name)
        if s is None:
            found.append(f"{name}: not in the schema")
            continue
        if TENANT_COLUMN not in s.columns:
            found.append(f"{name}: no {TENANT_COLUMN}")
            continue
        if s.columns[TENANT_COLUMN]:
            found.append(f"{name}: {TENANT_COLUMN} may be NULL")
        if s.primary_key and TENANT_COLUMN not in s.primary_key:
            found.append(f"{name}: primary key ({', '.join(s.primary_key)})")
        for cols in s.uniques:
            if TENANT_COLUMN not in cols:
                found.append(f"{name}: unique ({', '.join(cols)})")
        for _, cols, ref, ref_cols in s.foreign_keys:
            if ref in tenant and not (TENANT_COLUMN in cols and TENANT_COLUMN in ref_cols):
                found.append(f"{name}: foreign key ({', '.join(cols)}) -> {ref}")
    for t in NODE_TABLES:
        for _, cols, ref, _ in shape.get(t.name, TableShape({}, (), [])).foreign_keys:
            if ref in tenant:
                found.append(
                    f"{t.name}: reference table's foreign key ({', '.join(cols)}) -> {ref}"
                )
    return sorted(set(found))


async def read_schema(conn: Any) -> dict[str, TableShape]:
    """The tables of the current schema, from pg_catalog (an asyncpg connection)."""
    out: dict[str, TableShape] = {}
    for r in await conn.fetch(
        "SELECT c.oid, c.relname FROM pg_class c WHERE c.relkind IN ('r', 'p') "
        "AND c.relnamespace = current_schema()::regnamespace"
    ):
        cols = {
            a["attname"]: not a["attnotnull"]
            for a in await conn.fetch(
                "SELECT attname, attnotnull FROM pg_attribute WHERE attrelid = $1 "
                "AND attnum > 0 AND NOT attisdropped",
                r["oid"],
            )
        }
        keys = await conn.fetch(
            "SELECT con.conname, con.contype::text AS contype, "
            "ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, o) "
            "  JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n "
            "  ORDER BY k.o) AS cols, "
            "ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, o) "
            "  JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n "
            "  ORDER BY k.o) AS ref_cols, "
            "con.confrelid::regclass::text AS ref "
            "FROM pg_constraint con WHERE con.conrelid = $1 AND con.contype IN ('p', 'f')",
            r["oid"],
        )
        # Unique indexes, whether or not a constraint stands behind them.
        uniques = await conn.fetch(
            "SELECT ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(n, o) "
            "  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n "
            "  ORDER BY k.o) AS cols "
            "FROM pg_index i WHERE i.indrelid = $1 AND i.indisunique AND NOT i.indisprimary",
            r["oid"],
        )
        pk = next((tuple(k["cols"]) for k in keys if k["contype"] == "p"), ())
        fks = [
            (k["conname"], tuple(k["cols"]), k["ref"].strip('"'), tuple(k["ref_cols"]))
            for k in keys
            if k["contype"] == "f"
        ]
        out[r["relname"]] = TableShape(cols, pk, [tuple(u["cols"]) for u in uniques], fks)
    return out


async def read_sqlite_schema(rows: Any) -> dict[str, TableShape]:
    """The same from SQLite's PRAGMAs; ``rows(sql)`` runs one and returns dict rows."""
    out: dict[str, TableShape] = {}
    names = await rows(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    for t in (r["name"] for r in names):
        info = await rows(f'PRAGMA table_info("{t}")')
        cols = {c["name"]: not c["notnull"] and not c["pk"] for c in info}
        pk = tuple(c["name"] for c in sorted(info, key=lambda c: c["pk"]) if c["pk"])
        fks: dict[int, tuple[str, list[str], str, list[str]]] = {}
        for f in await rows(f'PRAGMA foreign_key_list("{t}")'):
            entry = fks.setdefault(f["id"], (f"{t}_fk{f['id']}", [], f["table"], []))
            entry[1].append(f["from"])
            entry[3].append(f["to"] or "id")
        uniques = []
        for ix in await rows(f'PRAGMA index_list("{t}")'):
            if ix["unique"] and ix["origin"] != "pk":
                ixinfo = await rows(f'PRAGMA index_info("{ix["name"]}")')
                uniques.append(tuple(i["name"] for i in ixinfo))
        out[t] = TableShape(
            cols, pk, uniques, [(n, tuple(c), r, tuple(rc)) for n, c, r, rc in fks.values()]
        )
    return out
