"""Helpers of the payments tests (the fake Stripe fixture is in conftest.py)."""

from __future__ import annotations

from typing import Any

from billing_support import invoice_state, make_invoice

__all__ = ["WEBHOOK_SECRET", "invoice_state", "make_invoice", "stripe_event"]

WEBHOOK_SECRET = "whsec_idnest_test_secret"


def stripe_event(kind: str, obj: dict[str, Any], event_id: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "type": kind,
        "api_version": "2024-06-20",
        "created": 1_700_000_000,
        "data": {"object": obj},
    }
