"""Namespaces: a tenant's GS1 company prefix, OID sub-arc, Ecode and VAA issuer codes.

A tenant asks (at signup, in its profile, through the API); staff verify or reject
(CLI now, the staff console later, both through these functions). Only a verified
namespace lets the tenant register codes under it, and only a verified namespace
resolves. The OID sub-arc is the exception: the node owns its arc, so a sub-arc is
allocated and verified at once.

A (scheme, value) belongs to one tenant across the node, and no namespace may overlap
another tenant's (6901234 and 69012345 would share codes), so code ownership is never
ambiguous. A rejected claim does not block the real owner: it is handed over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core import audit, db
from core.bus import get_bus
from core.errors import Conflict, InvalidValue, NotFound
from core.outbox import enqueue
from core.schemes import prefixes_overlap
from core.schemes.ecode import validate_ecode_issuer_code
from core.schemes.gs1 import validate_company_prefix
from core.schemes.oid import oid_child, oid_is_under, validate_oid
from core.schemes.vaa import validate_vaa_issuer_code
from core.settings import get_settings
from core.tenancy import cross_tenant, scope_of, tenant_transaction
from tenants.accounts.services.tenants import get_by_prefix
from tenants.schemes.services.common import checked, ecode_rules, require_scheme, vaa_rules
from tenants.schemes.tables import NAMESPACE_STATUSES, SchemeNamespace

LABELS = {
    "gs1": "GS1 company prefix",
    "oid": "OID arc",
    "ecode": "Ecode issuer code",
    "vaa": "VAA issuer code",
}


@dataclass(frozen=True, slots=True)
class NamespaceInfo:
    id: int
    tenant_id: int
    tenant_prefix: str
    scheme: str
    value: str
    status: str
    created_at: datetime
    verified_by: str
    verified_at: datetime | None
    note: str


def _info(row: dict[str, Any]) -> NamespaceInfo:
    return NamespaceInfo(
        row["id"],
        row["tenant_id"],
        row["tenant_prefix"],
        row["scheme"],
        row["value"],
        row["status"],
        row["created_at"],
        row["verified_by"],
        row["verified_at"],
        row["note"],
    )


def _columns() -> list[Any]:
    return [
        *SchemeNamespace.all_columns(),
        SchemeNamespace.tenant_id.prefix.as_alias("tenant_prefix"),
    ]


def node_oid_arc() -> str:
    return checked("IDNEST_OID_ARC", lambda: validate_oid(get_settings().oid_arc))


def normalise_value(scheme: str, value: str) -> str:
    """Validate a namespace value by its scheme's rules and return its one spelling."""
    require_scheme(scheme)
    value = value.strip()
    if scheme == "gs1":
        return checked("value", lambda: validate_company_prefix(value))
    if scheme == "ecode":
        return checked("value", lambda: validate_ecode_issuer_code(value, rules=ecode_rules()))
    if scheme == "vaa":
        return checked("value", lambda: validate_vaa_issuer_code(value, rules=vaa_rules()))
    oid = checked("value", lambda: validate_oid(value))
    arc = node_oid_arc()
    if not oid_is_under(oid, arc):
        raise InvalidValue(
            f"value: OID arc {oid} is not under this node's arc {arc}", field="value"
        )
    return oid


def _overlaps(scheme: str, a: str, b: str) -> bool:
    if scheme == "oid":
        return oid_is_under(a, b, or_equal=True) or oid_is_under(b, a)
    return prefixes_overlap(a, b)


async def _allocate_oid(tenant_id: int) -> str:
    arc = node_oid_arc()
    async with cross_tenant("namespaces"):
        rows = await SchemeNamespace.select(SchemeNamespace.value).where(
            SchemeNamespace.scheme == "oid"
        )
    numbers = [
        int(r["value"][len(arc) + 1 :].split(".")[0]) for r in rows if oid_is_under(r["value"], arc)
    ]
    return oid_child(arc, max(numbers, default=0) + 1)


async def request_namespace(
    tenant_id: int, scheme: str, value: str | None, *, actor: str
) -> NamespaceInfo:
    """Claim a namespace for a tenant (pending review); an OID sub-arc is allocated and
    verified at once when no value is given. Asking again for one's own is a no-op."""
    require_scheme(scheme)
    if value is None or not value.strip():
        if scheme != "oid":
            raise InvalidValue(f"value: give the {LABELS[scheme]}", field="value")
        async with tenant_transaction(tenant_id, write=False):
            mine = (
                await SchemeNamespace.select(SchemeNamespace.id)
                .where(
                    (SchemeNamespace.tenant_id == tenant_id)
                    & (SchemeNamespace.scheme == "oid")
                    & (SchemeNamespace.status == "verified")
                )
                .first()
            )
        if mine is not None:
            return await _get(tenant_id, mine["id"])
        for _attempt in range(5):
            try:
                return await _claim(tenant_id, "oid", await _allocate_oid(tenant_id), actor, True)
            except Exception as exc:
                if not db.is_unique_violation(exc):
                    raise
        raise Conflict("could not allocate an OID sub-arc; try again")
    normalised = normalise_value(scheme, value)
    try:
        return await _claim(tenant_id, scheme, normalised, actor, scheme == "oid")
    except Conflict:
        raise
    except Exception as exc:
        if db.is_unique_violation(exc):
            raise Conflict(
                f"{LABELS[scheme]} {normalised} is already claimed on this node", field="value"
            ) from None
        raise


async def _claim(
    tenant_id: int, scheme: str, value: str, actor: str, verified: bool
) -> NamespaceInfo:
    now = datetime.now(UTC)
    # A namespace is unique across the node: the claim weighs every tenant's, and a
    # rejected claim of another tenant is handed over.
    async with cross_tenant("namespaces", write=True):
        rows = await SchemeNamespace.select().where(
            (SchemeNamespace.scheme == scheme) & (SchemeNamespace.status != "rejected")
        )
        for r in rows:
            if r["value"] == value and r["tenant_id"] == tenant_id:
                return await _get(tenant_id, r["id"])
            if _overlaps(scheme, value, r["value"]):
                raise Conflict(
                    f"{LABELS[scheme]} {value} overlaps one already claimed on this node",
                    field="value",
                )
        status = "verified" if verified else "pending"
        fields: dict[Any, Any] = {
            SchemeNamespace.tenant_id: tenant_id,
            SchemeNamespace.status: status,
            SchemeNamespace.requested_by: actor[:255],
            SchemeNamespace.created_at: now,
            SchemeNamespace.verified_by: "system" if verified else "",
            SchemeNamespace.verified_at: now if verified else None,
            SchemeNamespace.note: "",
        }
        old = (
            await SchemeNamespace.select(SchemeNamespace.id)
            .where((SchemeNamespace.scheme == scheme) & (SchemeNamespace.value == value))
            .first()
        )
        if old is not None:  # a rejected claim: handed over to this tenant
            await SchemeNamespace.update(fields).where(SchemeNamespace.id == old["id"])
            ns_id = old["id"]
        else:
            inserted = await SchemeNamespace.insert(
                SchemeNamespace(
                    scheme=scheme, value=value, **{c._meta.name: v for c, v in fields.items()}
                )
            ).returning(SchemeNamespace.id)
            ns_id = inserted[0]["id"]
        await audit.record(
            actor=actor,
            action="namespace.request",
            target=f"{scheme}:{value}",
            tenant_id=tenant_id,
            detail={"status": status},
        )
        if verified:
            await enqueue(
                "upstream.namespace",
                {"scheme": scheme, "value": value, "op": "verified"},
                tenant_id=tenant_id,
            )
    await get_bus().publish(f"ns:{scheme}")
    return await _get(tenant_id, ns_id)


async def _get(tenant_id: int, ns_id: int) -> NamespaceInfo:
    async with tenant_transaction(tenant_id, write=False):
        row = await SchemeNamespace.select(*_columns()).where(SchemeNamespace.id == ns_id).first()
    if row is None:
        raise NotFound(f"no namespace {ns_id}")
    return _info(row)


async def add_for_tenant(
    tenant_prefix: str, scheme: str, value: str | None, *, actor: str
) -> NamespaceInfo:
    """Staff: claim a namespace on a tenant's behalf (e.g. from its signup form)."""
    tenant = await get_by_prefix(tenant_prefix)
    return await request_namespace(tenant.id, scheme, value, actor=actor)


async def review_namespace(
    scheme: str, value: str, *, verified: bool, actor: str, note: str = ""
) -> NamespaceInfo:
    """Staff: verify or reject a claimed namespace. Revoking a verified one (reject)
    stops its codes resolving at once."""
    normalised = normalise_value(scheme, value)
    status = "verified" if verified else "rejected"
    async with cross_tenant("staff", write=True):
        row = (
            await SchemeNamespace.select()
            .where((SchemeNamespace.scheme == scheme) & (SchemeNamespace.value == normalised))
            .first()
        )
        if row is None:
            raise NotFound(f"no claim of {LABELS[scheme]} {normalised}", field="value")
        await SchemeNamespace.update(
            {
                SchemeNamespace.status: status,
                SchemeNamespace.verified_by: actor[:255],
                SchemeNamespace.verified_at: datetime.now(UTC),
                SchemeNamespace.note: note[:1024],
            }
        ).where(SchemeNamespace.id == row["id"])
        await audit.record(
            actor=actor,
            action=f"namespace.{status}",
            target=f"{scheme}:{normalised}",
            tenant_id=row["tenant_id"],
            detail={"from": row["status"], "note": note},
        )
        await enqueue(
            "upstream.namespace",
            {"scheme": scheme, "value": normalised, "op": status},
            tenant_id=row["tenant_id"],
        )
    await get_bus().publish(f"ns:{scheme}")
    return await _get(row["tenant_id"], row["id"])


async def list_namespaces(
    tenant_id: int | None = None, *, scheme: str | None = None, status: str | None = None
) -> list[NamespaceInfo]:
    """A tenant's namespaces (tenant_id given), or the node's review queue (staff)."""
    query = SchemeNamespace.select(*_columns()).order_by(SchemeNamespace.id)
    if tenant_id is not None:
        query = query.where(SchemeNamespace.tenant_id == tenant_id)
    if scheme is not None:
        query = query.where(SchemeNamespace.scheme == require_scheme(scheme))
    if status is not None:
        if status not in NAMESPACE_STATUSES:
            raise InvalidValue(f"unknown status {status!r}", field="status")
        query = query.where(SchemeNamespace.status == status)
    # A tenant's own, or (staff) the node's review queue.
    scope = scope_of(tenant_id, write=False) if tenant_id else cross_tenant("staff")
    async with scope:
        return [_info(r) for r in await query]


async def verified_values(tenant_id: int, scheme: str) -> list[str]:
    async with tenant_transaction(tenant_id, write=False):
        rows = await SchemeNamespace.select(SchemeNamespace.value).where(
            (SchemeNamespace.tenant_id == tenant_id)
            & (SchemeNamespace.scheme == scheme)
            & (SchemeNamespace.status == "verified")
        )
    return [r["value"] for r in rows]
