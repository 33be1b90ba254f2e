"""An identifier's lifecycle (生命周期) and validity (有效性): what every door reads.

A record has a stored status (active, suspended, revoked, expired), since when and why,
and an optional validity window [valid_from, valid_until). The *state* it answers with
is decided at answer time from these and the clock, so a cached active record whose
window closes answers "expired" at once, with no write and no cache expiry: a float
comparison per resolution, and only for records that carry lifecycle data at all.

Order when several apply: revoked, then expired (stored, or the window closed), then
suspended, then not yet valid (before valid_from). Days are Asia/Shanghai days: a
date-only ``valid_from`` is the start of that day there, a date-only ``valid_until`` the
end of it (the next day's 00:00 in Shanghai, the first instant no longer valid).
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from core.errors import InvalidValue
from core.values import STATUS_TYPE, HandleValue, ValueData

SHANGHAI = ZoneInfo("Asia/Shanghai")
ACTIVE, SUSPENDED, REVOKED, EXPIRED = "active", "suspended", "revoked", "expired"
STATUSES = (ACTIVE, SUSPENDED, REVOKED, EXPIRED)
# A derived state only: the window has not opened yet. Never stored.
NOT_YET_VALID = "not_yet_valid"
REFUSE, SERVE = "refuse", "serve"
POLICIES = (REFUSE, SERVE)
MAX_REASON = 255
# The value the wire door adds to an answer (docs/wire.md): index 0 is outside the
# range a tenant may register (1..2**31-1), so it never collides with a stored value.
STATUS_INDEX = 0


class Lifecycle(msgspec.Struct, frozen=True, gc=False):
    """A cached record's lifecycle data, with its tenant's policy for the HTTP doors."""

    status: str = ACTIVE
    since: str = ""  # ISO 8601, UTC
    reason: str = ""
    valid_from: float | None = None  # epoch seconds
    valid_until: float | None = None
    suspended_policy: str = REFUSE
    expired_policy: str = REFUSE

    def state(self, now: float | None = None) -> str:
        now = time.time() if now is None else now
        if self.status == REVOKED:
            return REVOKED
        if self.status == EXPIRED or (self.valid_until is not None and now >= self.valid_until):
            return EXPIRED
        if self.status == SUSPENDED:
            return SUSPENDED
        if self.valid_from is not None and now < self.valid_from:
            return NOT_YET_VALID
        return ACTIVE

    def describe(self, state: str) -> dict[str, Any]:
        """The JSON the doors show: problem extensions, the wire status value."""
        since = self.since
        if state == EXPIRED and self.status != EXPIRED and self.valid_until is not None:
            since = iso(self.valid_until)
        return {
            "identifierStatus": state,
            "statusSince": since or None,
            "statusReason": self.reason or None,
            "validFrom": iso(self.valid_from) if self.valid_from is not None else None,
            "validUntil": iso(self.valid_until) if self.valid_until is not None else None,
        }

    def policy(self, state: str) -> str:
        if state == SUSPENDED:
            return self.suspended_policy
        if state == EXPIRED:
            return self.expired_policy
        return REFUSE


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def build(row: dict[str, Any], suspended: str = REFUSE, expired: str = REFUSE) -> Lifecycle | None:
    """The Lifecycle of a stored row, or None for a plain active record (the fast path)."""
    status = row.get("status") or ACTIVE
    if status == ACTIVE and row.get("valid_from") is None and row.get("valid_until") is None:
        return None
    since = row.get("status_since")
    return Lifecycle(
        status=status,
        since=iso(since.timestamp()) if since else "",
        reason=row.get("status_reason") or "",
        valid_from=epoch(row.get("valid_from")),
        valid_until=epoch(row.get("valid_until")),
        suspended_policy=suspended,
        expired_policy=expired,
    )


def needs_policy(row: dict[str, Any]) -> bool:
    return (row.get("status") or ACTIVE) != ACTIVE or bool(
        row.get("valid_from") or row.get("valid_until")
    )


def status_value(lifecycle: Lifecycle, state: str) -> HandleValue:
    """The HS_STATUS value (docs/wire.md): public, never cached by clients (ttl 0)."""
    names = {"identifierStatus": "status", "statusSince": "since", "statusReason": "reason"}
    described = lifecycle.describe(state).items()
    body = {names.get(k, k): v for k, v in described if v is not None}
    text = msgspec.json.encode(body).decode()
    return HandleValue(
        index=STATUS_INDEX, type=STATUS_TYPE, data=ValueData("string", text), ttl=0,
        permissions="1110",
    )  # fmt: skip


def status_now(lifecycle: Lifecycle) -> HandleValue:
    """The HS_STATUS value as of now: what the wire door adds to an answer."""
    return status_value(lifecycle, lifecycle.state())


def parse_status(raw: Any, field: str = "status") -> str:
    if not isinstance(raw, str) or raw.strip().lower() not in STATUSES:
        raise InvalidValue(
            f"{field} must be one of {', '.join(STATUSES)}, got {str(raw)[:40]!r}", field=field
        )
    return raw.strip().lower()


def parse_policy(raw: Any, field: str) -> str:
    if not isinstance(raw, str) or raw.strip().lower() not in POLICIES:
        raise InvalidValue(f"{field} must be refuse or serve, got {str(raw)[:40]!r}", field=field)
    return raw.strip().lower()


def parse_reason(raw: Any, field: str = "reason") -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise InvalidValue(f"{field} must be text", field=field)
    if len(raw) > MAX_REASON:
        raise InvalidValue(f"{field} is longer than {MAX_REASON} characters", field=field)
    return raw.strip()


def parse_instant(raw: Any, field: str, *, end_of_day: bool) -> datetime | None:
    """A validity edge: null, a date (an Asia/Shanghai day: its start, or with
    ``end_of_day`` the next day's start), or an ISO 8601 date-time (exact with an
    offset; without one it is Asia/Shanghai local time)."""
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or len(raw) > 40:
        raise InvalidValue(f"{field} must be an ISO 8601 date or date-time", field=field)
    text = raw.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
            moment = start + timedelta(days=1) if end_of_day else start
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=SHANGHAI)
    except ValueError:
        raise InvalidValue(
            f"{field} must be an ISO 8601 date (YYYY-MM-DD) or date-time, got {text!r}",
            field=field,
        ) from None
    if not 1970 <= moment.year <= 9998:
        raise InvalidValue(f"{field} is out of range", field=field)
    return moment.astimezone(UTC)


def check_window(valid_from: datetime | None, valid_until: datetime | None) -> None:
    if valid_from is not None and valid_until is not None and valid_until <= valid_from:
        raise InvalidValue("validUntil must be after validFrom", field="validUntil")
