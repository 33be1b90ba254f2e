"""The node's own data kept by staff: the operator's profile and the node's type and name
(REFERENCE §4, sent to the top-level node on change), and requests for new industry
templates (the guideline's application for industry metadata).

These are data, not settings: staff change them in the console, each change is audited
and enqueued upstream in the same transaction. Until staff first save the profile, the
node name comes from ``IDNEST_NODE_NAME``.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from core import audit
from core.codes import CodeError, validate_credit_code
from core.errors import InvalidValue
from core.industries import division_codes
from core.outbox import enqueue
from core.settings import get_settings
from core.tables import NodeProfile, Outbox, TemplateRequest
from core.tenancy import cross_tenant

NODE_TYPES = ("enterprise", "industry", "public", "comprehensive")
FIELDS = ("node_name", "node_type", "operator_name", "credit_code", "legal_representative",
          "system_location", "data_location", "escrow_provider")  # fmt: skip
_LENGTHS = {"node_type": 64, "credit_code": 18}


@dataclass(frozen=True, slots=True)
class Profile:
    node_name: str = ""
    node_type: str = "enterprise"
    operator_name: str = ""
    credit_code: str = ""
    legal_representative: str = ""
    system_location: str = ""
    data_location: str = ""
    escrow_provider: str = ""

    def message(self) -> dict[str, Any]:
        return {**asdict(self), "node_prefix": get_settings().node_prefix}


async def profile() -> tuple[Profile, datetime | None]:
    row = await NodeProfile.select().order_by(NodeProfile.id).first().run()
    if row is None:
        return Profile(node_name=get_settings().node_name), None
    return Profile(**{f: row[f] for f in FIELDS}), row["updated_at"]


def _clean(form: dict[str, str]) -> Profile:
    values = {f: " ".join(str(form.get(f) or "").split())[: _LENGTHS.get(f, 255)] for f in FIELDS}
    if values["node_type"] not in NODE_TYPES:
        raise InvalidValue(f"node type must be one of {', '.join(NODE_TYPES)}", field="node_type")
    for f in ("node_name", "operator_name", "legal_representative"):
        if not values[f]:
            raise InvalidValue(f"{f.replace('_', ' ')} is required", field=f)
    try:
        values["credit_code"] = validate_credit_code(values["credit_code"].upper())
    except CodeError as exc:
        detail = f"unified social credit code: {exc.message}"
        raise InvalidValue(detail, field="credit_code") from exc
    return Profile(**values)


async def save_profile(form: dict[str, str], *, actor: str) -> Profile:
    """Check and save the profile; when it changed, audit it and send it upstream."""
    new = _clean(form)
    old, _at = await profile()
    async with cross_tenant("node", write=True):
        existing = await NodeProfile.select(NodeProfile.id).first().run()
        values = {**asdict(new), "updated_at": datetime.now(UTC), "updated_by": actor[:64]}
        if existing is None:
            await NodeProfile.insert(NodeProfile(**values)).run()
        else:
            cols = {getattr(NodeProfile, k): v for k, v in values.items()}
            await NodeProfile.update(cols).where(NodeProfile.id == existing["id"]).run()
        if new != old or existing is None:
            changed = sorted(f for f in FIELDS if getattr(new, f) != getattr(old, f))
            await audit.record(actor=actor, action="node.profile", target="node",
                               detail={"changed": changed})  # fmt: skip
            await enqueue("upstream.operator", new.message())
    return new


async def request_template(industry: str, name: str, description: str, *, actor: str) -> int:
    """Ask the top-level node for a new industry template; the request's id."""
    industry = industry.strip()
    if industry not in division_codes():
        raise InvalidValue("choose a GB/T 4754 division", field="industry")
    name = " ".join(name.split())[:255]
    if not name:
        raise InvalidValue("the template needs a name", field="name")
    description = description.strip()[:2000]
    event = uuid.uuid4().hex
    async with cross_tenant("node", write=True):
        rows = (
            await TemplateRequest.insert(
                TemplateRequest(
                    industry=industry,
                    name=name,
                    description=description,
                    requested_by=actor[:64],
                    event_id=event,
                    created_at=datetime.now(UTC),
                )
            )
            .returning(TemplateRequest.id)
            .run()
        )
        request_id = int(rows[0]["id"])
        data = {"request_id": request_id, "industry": industry, "name": name,
                "description": description}  # fmt: skip
        await enqueue("upstream.template_request", data, event_id=event)
    return request_id


async def template_requests(limit: int = 100) -> list[dict[str, Any]]:
    """The node's requests, newest first, each with its delivery status: ``queued``,
    ``sent`` (the top-level node took it) or ``refused`` (a dead letter; see the outbox)."""
    async with cross_tenant("node"):
        rows = (
            await TemplateRequest.select()
            .order_by(TemplateRequest.id, ascending=False)
            .limit(limit)
            .run()
        )
        events = [r["event_id"] for r in rows if r["event_id"]]
        sent = (
            await Outbox.select(Outbox.event_id, Outbox.delivered_at, Outbox.dead_at)
            .where(Outbox.event_id.is_in(events))
            .run()
            if events
            else []
        )
    state = {s["event_id"]: s for s in sent}
    for r in rows:
        s = state.get(r["event_id"]) or {}
        r["status"] = (
            "sent" if s.get("delivered_at") else "refused" if s.get("dead_at") else "queued"
        )
        r["sent_at"] = s.get("delivered_at")
    return rows
