"""The messages a secondary node sends the top-level node (REFERENCE §4): their
envelope, path and the fields each kind must carry.

The top-level node's push API is not public, so these shapes are ours (docs/upstream.md).
The sender (``core.delivery``) and the fake node (``idnest devtools toplevel``) read the
same table, so a message the fake accepts is one the sender can build, and a kind added
here is validated at once.

Wire shape: ``POST {IDNEST_UPSTREAM_URL}/upstream/v1/{kind}`` with
``{"node": prefix, "events": [event, ...]}``, where an event is
``{"eventId", "kind", "tenant" (enterprise prefix or null), "occurredAt" (ISO 8601),
"data": {...}}``. Events of one request are of one kind and one tenant, in outbox order.
The answer is an SNMS envelope; ``status`` 1 means every event was taken.
"""

from __future__ import annotations

from typing import Any

SYNC_PATH = "/upstream/v1/"
TOPIC_PREFIX = "upstream."

# kind -> fields its ``data`` must carry (any of a tuple's alternatives will do).
REQUIRED: dict[str, tuple[str | tuple[str, ...], ...]] = {
    # node operator profile and resolution configuration: on change
    "operator": (
        "credit_code",
        "legal_representative",
        "system_location",
        "data_location",
        "escrow_provider",
        "node_type",
        "node_name",
    ),
    "config": ("prefix", "code_types", "addresses", "ports"),
    # per enterprise node: profile and routing, hourly and on change
    "tenant": ("prefix", "op"),
    "enterprise": ("op",),
    "namespace": ("scheme", "value", "op"),
    "scheme_code": ("op",),
    "gs1_link": ("key", "op"),
    # identifier master data: one write, or a batch of them
    "identifier": (("handle", "items"),),
    # daily statistics (Asia/Shanghai days)
    "enterprise_stats": (
        "day",
        "prefix",
        "registrations",
        "registrations_total",
        "resolutions",
        "successes",
        "industry",
    ),
    "node_stats": (
        "day",
        "registrations",
        "registrations_total",
        "queries",
        "successes",
        "source_ips",
    ),
    "templates": ("day", "templates"),
    "template_request": ("request_id", "industry", "name"),
    # engineer U2: monitoring, events, monthly report; O2: escrow
    "monitoring": ("day",),
    "abnormal": ("type",),
    "recovered": ("type",),
    "monthly": ("month",),
    "escrow": ("prefix",),
}
EVENT_FIELDS = ("eventId", "kind", "occurredAt", "data")


def kind_of(topic: str) -> str | None:
    """The message kind of an outbox topic, or None if it is not for the top-level node."""
    return topic.removeprefix(TOPIC_PREFIX) if topic.startswith(TOPIC_PREFIX) else None


def problems(event: Any) -> list[str]:
    """What is wrong with one event (empty: it is well formed)."""
    if not isinstance(event, dict):
        return ["an event must be an object"]
    wrong = [f"missing {f}" for f in EVENT_FIELDS if f not in event]
    if wrong:
        return wrong
    kind, data = event["kind"], event["data"]
    if not isinstance(event["eventId"], str) or not event["eventId"]:
        wrong.append("eventId must be a non-empty string")
    if kind not in REQUIRED:
        return [*wrong, f"unknown kind {kind!r}"]
    if not isinstance(data, dict):
        return [*wrong, "data must be an object"]
    for field in REQUIRED[kind]:
        choices = field if isinstance(field, tuple) else (field,)
        if not any(c in data for c in choices):
            wrong.append(f"{kind}: data needs {' or '.join(choices)}")
    return wrong
