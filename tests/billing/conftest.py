"""Shared set-up of the billing tests: a fake Stripe the settings point at."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fakes.stripe_server import FakeStripe
from payments_support import WEBHOOK_SECRET


@pytest.fixture
def fake_stripe(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeStripe, Any]]:
    """A running fake Stripe and the node's settings pointed at it (for the app too)."""
    from core.settings import get_settings, reset_settings

    fake = FakeStripe().start()
    monkeypatch.setenv("IDNEST_STRIPE_API_KEY", fake.api_key)
    monkeypatch.setenv("IDNEST_STRIPE_API_BASE", fake.url)
    monkeypatch.setenv("IDNEST_STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    reset_settings()
    try:
        yield fake, get_settings()
    finally:
        fake.stop()
        for name in ("API_KEY", "API_BASE", "WEBHOOK_SECRET"):
            monkeypatch.delenv(f"IDNEST_STRIPE_{name}", raising=False)
        reset_settings()
