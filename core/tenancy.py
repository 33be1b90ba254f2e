"""What a tenant owns, declared once, and the one way to open a tenant's transaction.

Every table of the migrated schema is named here: tenant-owned (``TENANT_TABLES``, each
with its ``tenant_id`` column, a foreign key to ``tenants``) or node-wide
(``NODE_TABLES``, each with its reason). tests/core/test_tenancy_schema.py fails when a
table is missing, when a tenant table lacks ``tenant_id``, or when one of its unique
keys leaves ``tenant_id`` out without a reason given here. The same declaration drives
row-level security on PostgreSQL (core/rls.py), and is what a tenant's export, erasure
and distribution (Citus ``create_distributed_table(name, 'tenant_id')``) read: each
entry says which columns are secret, which table its rows hang from, and whether rows
without a tenant (the node's own) live in it too.

Tables are named, not imported: the kernel knows no context; ``piccolo_table`` finds the
class through Piccolo's app registry when a caller needs it.

Reads and writes of tenant tables happen inside ``tenant_transaction(tenant_id)``, or,
for the few paths that must cross tenants, ``cross_tenant(path)`` with a path named in
``CROSS_TENANT_PATHS``. On PostgreSQL these set ``app.tenant_id`` / ``app.cross_tenant``
for the transaction only (``set_config(..., true)``), and the policies read them. On
SQLite there is no row-level security: the helpers record the tenant for the task and
refuse a nested transaction for another tenant, but a query that forgets its tenant
filter is not stopped there; the PostgreSQL profile of the test suite is what catches it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import TransactionType

from core import db

TENANT_COLUMN = "tenant_id"
TENANT_SETTING = "app.tenant_id"
CROSS_SETTING = "app.cross_tenant"


@dataclass(frozen=True)
class TenantTable:
    """A table whose rows belong to one tenant each, through ``tenant_id``."""

    name: str
    # Unique keys that leave tenant_id out (by their columns), and why.
    node_wide_unique: dict[tuple[str, ...], str] = field(default_factory=dict)
    # Rows with tenant_id NULL are the node's own (e.g. node templates). Every tenant may
    # read them if ``shared_node_rows``; otherwise only a cross-tenant path sees them.
    nullable: bool = False
    shared_node_rows: bool = False
    # Columns a tenant's export leaves out (hashes, encrypted secrets).
    secret_columns: tuple[str, ...] = ()
    # Whether a tenant's export includes the table at all (transient rows do not).
    exportable: bool = True
    # The tenant table these rows hang from: erase deletes children first. ``parent_key``
    # is the column holding the parent's id (an import maps it to the new id).
    parent: str | None = None
    # Whether the node's escrow (tenants/escrow, docs/escrow.md) carries the table: its
    # core data does; credentials, people, logs and transient rows do not.
    escrow: bool = True
    parent_key: str = ""
    # Why erasure keeps these rows (the law requires them), or "" when it deletes them.
    retained: str = ""
    # A column naming another tenant that may read the row too (a grant's partner): on
    # PostgreSQL a SELECT policy lets that tenant's transaction see it, and nothing more.
    readable_by: str = ""


@dataclass(frozen=True)
class NodeTable:
    name: str
    reason: str
    escrow: bool = False


# Kept by a tenant's erasure: accounting records are kept for years after the business
# relationship ends (会计档案管理办法: ten years for invoices and ledgers).
_ACCOUNTING_LAW = "accounting records (invoices) are kept by law after the tenant leaves"

TENANT_TABLES: tuple[TenantTable, ...] = (
    TenantTable("memberships", escrow=False),
    TenantTable(
        "api_keys",
        node_wide_unique={
            ("key_id",): "a key is looked up by its key id before the tenant is known"
        },
        secret_columns=("secret_hash",),
        escrow=False,
    ),
    TenantTable(
        "oauth_clients",
        node_wide_unique={
            ("client_id",): "a client is looked up by its client id before the tenant is known"
        },
        secret_columns=("secret_hash",),
        escrow=False,
    ),
    TenantTable("identifiers"),
    TenantTable(
        "scheme_namespaces",
        node_wide_unique={
            ("scheme", "value"): (
                "a GS1 company prefix, OID arc or issuer code belongs to one tenant of the node"
            )
        },
    ),
    TenantTable("scheme_codes"),
    TenantTable("gs1_links"),
    TenantTable("gs1_items"),
    TenantTable("code_mappings"),
    TenantTable("resolution_counts", escrow=False),
    # Node-level events and deliveries have no tenant: only a cross-tenant path sees them.
    # Kept through erasure: the chain cannot lose links (core/audit.py, docs/access.md).
    TenantTable(
        "audit_log",
        nullable=True,
        escrow=False,
        retained="the tamper-evident audit chain: removing a tenant's entries would break it",
    ),
    TenantTable(
        "outbox",
        nullable=True,
        exportable=False,
        escrow=False,
        node_wide_unique={
            ("dedupe_key",): (
                "a cadence message's period key (node-stats:2026-12-01) names its tenant "
                "itself, and one per period is the point"
            )
        },
    ),
    TenantTable(
        "metadata_templates",
        nullable=True,
        shared_node_rows=True,
        node_wide_unique={
            ("code", "version"): (
                "the node's own templates (tenant_id NULL): one (code, version) among them"
            )
        },
    ),
    TenantTable(
        "snms_accounts",
        node_wide_unique={
            ("username",): ("SNMS clients log in by username before the tenant is known")
        },
        secret_columns=("password_hash", "v1_digest"),
        escrow=False,
    ),
    TenantTable("idempotency_keys", exportable=False, escrow=False),
    # Cross-enterprise grants (tenants/grants): the owner writes them; the partner named
    # reads them (its "received" list) under its own tenancy, never anyone else's.
    TenantTable("grants", readable_by="partner_id", escrow=False),
    # A self-deployed tenant's own Handle servers (tenants/enterprise): its routing, which
    # a takeover from escrow needs to keep referring clients to the enterprise.
    TenantTable("enterprise_servers"),
    TenantTable("enterprise_server_requests", escrow=False),
    TenantTable(
        "bulk_jobs",
        node_wide_unique={("public_id",): "a random public id, the one a worker is sent"},
        escrow=False,
    ),
    TenantTable("bulk_job_failures", parent="bulk_jobs", parent_key="job_id", escrow=False),
    TenantTable(
        "tenant_exports",
        node_wide_unique={("public_id",): "a random public id, the one a download names"},
        exportable=False,
        escrow=False,
    ),
    # Payments (billing/payments): what Stripe knows of the tenant, and money received.
    # Billing is the node operator's business, not the resolution data escrow carries;
    # money received is an accounting record, kept through erasure like the invoices.
    TenantTable("stripe_customers", escrow=False),
    TenantTable("stripe_meter_events", exportable=False, escrow=False),
    TenantTable("stripe_invoices", escrow=False),
    TenantTable("payments", retained=_ACCOUNTING_LAW, escrow=False),
    # A transfer is recorded before it is matched: NULL until finance knows whose it is.
    TenantTable(
        "bank_transfers",
        nullable=True,
        node_wide_unique={
            ("bank_ref",): "the bank's transaction id, recorded once before its tenant is known"
        },
        retained=_ACCOUNTING_LAW,
        escrow=False,
    ),
    TenantTable("fapiao_profiles", escrow=False),
    TenantTable("dunning_cases", escrow=False),
    # Usage per tenant and hour (core/usage.py): registrations and resolutions.
    # Billing is the node operator's business, not the resolution data escrow carries.
    TenantTable("usage_ledger", escrow=False),
    TenantTable("billing_subscriptions", escrow=False),
    TenantTable(
        "billing_invoices",
        node_wide_unique={
            ("number",): "an invoice number is quoted as a bank-transfer reference: one per node"
        },
        retained=_ACCOUNTING_LAW,
        escrow=False,
    ),
    TenantTable(
        "billing_invoice_lines",
        parent="billing_invoices",
        parent_key="invoice",
        retained=_ACCOUNTING_LAW,
        escrow=False,
    ),
)

NODE_TABLES: tuple[NodeTable, ...] = (
    NodeTable(
        "tenants", "the tenants themselves; the prefix → tenant map is read first", escrow=True
    ),
    NodeTable("users", "people sign in before choosing a tenant and may belong to several"),
    NodeTable("audit_head", "the head of the one audit chain every tenant's entries hang on"),
    NodeTable("onboarding_applications", "filed by a user before any tenant exists"),
    NodeTable("onboarding_uploads", "an applicant's documents, kept with the application"),
    NodeTable("onboarding_email_tokens", "one-time links, looked up before anyone is known"),
    NodeTable("onboarding_user_totp", "a person's second factor, not a tenant's"),
    NodeTable("scheduled_jobs", "the node's periodic-job leases"),
    NodeTable("node_profile", "the node operator's own profile, one row, kept by staff"),
    NodeTable("template_requests", "the node's requests for industry templates upstream"),
    NodeTable("migration", "Piccolo's record of the migrations applied"),
    NodeTable("escrow_changes", "the node's change log for escrow: every tenant's changes"),
    NodeTable("escrow_sets", "the node's escrow sets and their upload state"),
    NodeTable(
        "tenant_closures",
        "an offboarding and its erasure: the record outlives the tenant's rows (by law)",
    ),
    NodeTable("tenant_imports", "a staff import: its tenant exists only once it commits"),
    NodeTable("resolution_log", "解析日志 of public resolutions by anyone; staff-only, purged"),
    NodeTable("probe_results", "the node's own prober: availability of its doors"),
    NodeTable("door_minutes", "per-minute traffic and latency of each door, all tenants"),
    NodeTable("maintenance_windows", "the node's maintenance, recorded by staff"),
    NodeTable("abnormal_events", "the node's incidents, reported to the top-level node"),
    NodeTable(
        "stripe_webhook_events",
        "Stripe event ids acted on: the replay guard, checked before the tenant is known",
    ),
    NodeTable(
        "oauth_signing_keys", "the node's keys that sign every tenant's client tokens (JWKS)"
    ),
    NodeTable("billing_plans", "the node's price list: any tenant may be put on a plan"),
)

# The only reads (and writes) that cross tenants. Each is a name the database policy
# knows; ``writes`` paths may also change rows. docs/architecture.md lists them.
CROSS_TENANT_PATHS: dict[str, tuple[bool, str]] = {
    "resolver": (False, "public resolution: a record, GS1 link or code found by handle/key"),
    "auth": (False, "credentials looked up before the tenant is known: key id, username"),
    "staff": (True, "staff console: review, node statistics, search across tenants"),
    "namespaces": (True, "a namespace is unique across the node: claims weigh every tenant's"),
    "maintenance": (True, "periodic jobs: counters flush, purges, bulk re-drive, outbox"),
    "node": (True, "the node's own rows (tenant_id NULL): node templates, node-level audit"),
    "payments": (
        True,
        "billing payments: a webhook's tenant by Stripe customer, meter delivery, bank "
        "matching, dunning, finance reports across tenants",
    ),
    "migrate": (True, "schema migrations and their backfills, run as the owner role"),
    "escrow": (True, "escrow: a set reads every escrowed row; a restore writes them back"),
    "ownership": (True, "a tenant's import (its rows written before it may act) and erasure"),
}


def tenant_table(name: str) -> TenantTable | None:
    return next((t for t in TENANT_TABLES if t.name == name), None)


def declared_names() -> set[str]:
    return {t.name for t in TENANT_TABLES} | {t.name for t in NODE_TABLES}


def escrow_tables() -> list[str]:
    """The tables the node's escrow carries, parents first (tenants, then theirs)."""
    node = [t.name for t in NODE_TABLES if t.escrow]
    return node + [t.name for t in sorted(TENANT_TABLES, key=lambda t: t.parent is not None)
                   if t.escrow]  # fmt: skip


def erase_order() -> list[TenantTable]:
    """Children before parents: the order a tenant's rows can be deleted in."""
    return sorted(TENANT_TABLES, key=lambda t: t.parent is None)


def piccolo_table(name: str) -> Any:
    """The Piccolo table class of a declared table (for export and erasure)."""
    from piccolo.conf.apps import Finder

    for cls in Finder().get_table_classes():
        if cls._meta.tablename == name:
            return cls
    raise LookupError(f"no Piccolo table {name!r}")


class TenantScopeError(RuntimeError):
    """A transaction for one tenant was asked to act for another (a programming error)."""


# What the task's transaction is scoped to: ("tenant", id) or ("cross", path).
_scope: ContextVar[tuple[str, int | str] | None] = ContextVar("idnest_tenant_scope", default=None)


def current_tenant() -> int | None:
    scope = _scope.get()
    return int(scope[1]) if scope and scope[0] == "tenant" else None


@asynccontextmanager
async def tenant_transaction(tenant_id: int | None, *, write: bool = True) -> AsyncIterator[Any]:
    """The one place a tenant's transaction is opened and ``app.tenant_id`` is set.

    ``write=False`` (reads only): on PostgreSQL the same transaction; on SQLite no
    transaction at all (queries run as they would, with the tenant recorded), so reads
    never take SQLite's writer lock. Yields the transaction (None for such a read).
    """
    if isinstance(tenant_id, bool) or not isinstance(tenant_id, int) or tenant_id <= 0:
        raise TenantScopeError(f"not a tenant id: {tenant_id!r}")
    async with _scoped(("tenant", tenant_id), TENANT_SETTING, str(tenant_id), write) as tx:
        yield tx


@asynccontextmanager
async def cross_tenant(path: str, *, write: bool = False) -> AsyncIterator[Any]:
    """A transaction on one of the named cross-tenant paths (``CROSS_TENANT_PATHS``)."""
    if path not in CROSS_TENANT_PATHS:
        raise TenantScopeError(f"{path!r} is not a declared cross-tenant path")
    if write and not CROSS_TENANT_PATHS[path][0]:
        raise TenantScopeError(f"the {path} path only reads")
    async with _scoped(("cross", path), CROSS_SETTING, path, write) as tx:
        yield tx


@asynccontextmanager
async def tenant_replica_read(tenant_id: int, node: str) -> AsyncIterator[Any]:
    """A tenant's read on a read replica (``core.pgha.Replicas``): queries inside run with
    ``.run(node=node)``. Row-level security applies there as on the primary."""
    eng = db.engine()
    if not isinstance(eng, PostgresEngine) or node not in eng.extra_nodes:
        raise TenantScopeError(f"no read replica {node!r}")
    token = _scope.set(("tenant", tenant_id))
    try:
        async with eng.extra_nodes[node].transaction() as tx:
            await tx.connection.execute(
                "SELECT set_config($1, $2, true)", TENANT_SETTING, str(tenant_id)
            )
            yield tx
    finally:
        _scope.reset(token)


def scope_of(tenant_id: int | None, *, write: bool = True) -> Any:
    """A tenant's transaction, or for ``None`` the node's own rows (``tenant_id`` NULL)."""
    if tenant_id is None:
        return cross_tenant("node", write=write)
    return tenant_transaction(tenant_id, write=write)


@asynccontextmanager
async def _scoped(
    scope: tuple[str, int | str], setting: str, value: str, write: bool
) -> AsyncIterator[Any]:
    outer = _scope.get()
    # Nested scopes share the outer transaction (Piccolo nests), so they must be the
    # same scope; a cross-tenant path may run a tenant's step inside its transaction.
    if outer is not None and outer != scope and outer[0] != "cross":
        raise TenantScopeError(f"a transaction for {outer} cannot act for {scope}")
    eng = db.engine()
    postgres = isinstance(eng, PostgresEngine)
    current = eng.current_transaction.get()
    if current is not None or (not postgres and not write):
        # Join the transaction in progress (scoping it if nothing had), or, for a read
        # on SQLite, none: there is no RLS to feed, and reads never take the writer lock.
        if current is not None and outer is None and postgres:
            await current.connection.execute("SELECT set_config($1, $2, true)", setting, value)
        token = _scope.set(outer or scope)
        try:
            yield current
        finally:
            _scope.reset(token)
        return
    if postgres:
        transaction = eng.transaction()
    else:
        transaction = eng.transaction(transaction_type=TransactionType.immediate)
    if not write:
        transaction.read_only = True  # core.pgha: a read is not work done
    token = _scope.set(scope)
    try:
        async with transaction as tx:
            if postgres:
                await tx.connection.execute("SELECT set_config($1, $2, true)", setting, value)
            yield tx
    finally:
        _scope.reset(token)
