"""The one place idnest talks to Stripe: a ``stripe.StripeClient`` when a key is set.

``IDNEST_STRIPE_API_KEY`` empty means no Stripe at all: nothing here is called and
billing runs on the internal ledger. ``IDNEST_STRIPE_API_BASE`` moves the API's base
address (the tests' fake Stripe); the library's own retries are off because delivery is
retried from the database (``meter_events``), not from memory.
"""

from __future__ import annotations

import stripe

from core.errors import ServiceUnavailable
from core.settings import Settings, get_settings


def enabled(settings: Settings | None = None) -> bool:
    return bool((settings or get_settings()).stripe_api_key)


def client(settings: Settings | None = None) -> stripe.StripeClient:
    settings = settings or get_settings()
    if not settings.stripe_api_key:
        raise ServiceUnavailable("Stripe is not configured (IDNEST_STRIPE_API_KEY)")
    base = {"api": settings.stripe_api_base} if settings.stripe_api_base else None
    return stripe.StripeClient(
        settings.stripe_api_key,
        base_addresses=base,  # type: ignore[arg-type]
        max_network_retries=0,
        http_client=stripe.HTTPXClient(),
    )


def payment_methods(settings: Settings | None = None) -> list[str]:
    """Card, Alipay, WeChat Pay: those the account allows (a setting, comma-separated)."""
    raw = (settings or get_settings()).stripe_payment_methods
    return [m.strip() for m in raw.split(",") if m.strip()]
