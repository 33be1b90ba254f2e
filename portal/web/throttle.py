"""Failed-login throttling with the ``limits`` library.

Only failures count: a moving window per account and a wider one per client address,
in the limiter core/throttle.py keeps (the OAuth2 token endpoint counts in it too).
"""

from __future__ import annotations

from limits import RateLimitItemPerMinute

from core.settings import get_settings
from core.throttle import limiter, reset_limiter

__all__ = ["allowed", "failed", "limiter", "mail_allowed", "reset_limiter"]


def _items() -> tuple[RateLimitItemPerMinute, RateLimitItemPerMinute]:
    n = get_settings().login_failures_per_minute
    return RateLimitItemPerMinute(n), RateLimitItemPerMinute(n * 4)


async def allowed(email: str, client: str) -> bool:
    per_account, per_client = _items()
    lim = limiter()
    return await lim.test(per_account, "login", email.lower()) and await lim.test(
        per_client, "login-ip", client
    )


async def failed(email: str, client: str) -> None:
    per_account, per_client = _items()
    lim = limiter()
    await lim.hit(per_account, "login", email.lower())
    await lim.hit(per_client, "login-ip", client)


async def mail_allowed(kind: str, email: str, client: str) -> bool:
    """Count one mail-sending request (reset link, resent confirmation); False when an
    address or a client asks too often, so the node cannot be used to flood inboxes."""
    lim = limiter()
    per_address, per_client = RateLimitItemPerMinute(3), RateLimitItemPerMinute(10)
    ok_address = await lim.hit(per_address, f"mail-{kind}", email.strip().lower())
    ok_client = await lim.hit(per_client, f"mail-{kind}-ip", client)
    return ok_address and ok_client
