"""One exception hierarchy for every door, and the one table of what each error reads as.

Each error class carries, once: the Handle response code (``rc``: the wire protocol's
response code and ``responseCode`` in JSON), the HTTP status the Handle.net REST dialect
pairs with it, a title (problem+json, GS1 resolver problems), and the SNMS status. Every
door reads these and nothing else: ``core.http`` (problem+json, RFC 9457), the Handle wire
server, the SNMS API and the GS1 Digital Link resolver. Errors the web framework raises
itself (no such route, body too large) carry only an HTTP status; ``rc_for_http_status``
is their Handle code. Services raise these and nothing else for expected failures.
"""

from __future__ import annotations

from typing import ClassVar

# SNMS API statuses (the top-level node's SNMS dialect).
SNMS_OK = 1
SNMS_NOT_LOGGED_IN = -1
SNMS_BUSINESS = -2
SNMS_NO_PERMISSION = -3
SNMS_INTERNAL = -4


class IdnestError(Exception):
    """Base of every expected failure. Never shown as a 500."""

    rc: ClassVar[int] = 2
    http_status: ClassVar[int] = 500
    title: ClassVar[str] = "Error"
    snms_status: ClassVar[int] = SNMS_BUSINESS

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        handle: str | None = None,
        extra: dict[str, object] | None = None,
    ):
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.handle = handle
        # More members of the problem document (e.g. an identifier's status and since when).
        self.extra = extra


class HandleNotFound(IdnestError):
    rc = 100
    http_status = 404
    title = "Handle not found"


class HandleGone(HandleNotFound):
    """The handle's tenant was erased (docs/ownership.md): gone for good, not just absent.
    Handle clients see rc 100 as for any missing handle; HTTP says 410."""

    http_status = 410
    title = "Gone"


class IdentifierRevoked(HandleGone):
    """The identifier was revoked by its owner (core/lifecycle.py): gone for good."""

    title = "Identifier revoked"


class IdentifierExpired(HandleGone):
    """The identifier's validity window closed, or it was marked expired."""

    title = "Identifier expired"


class IdentifierNotYetValid(HandleNotFound):
    """Before the identifier's valid_from: not resolvable yet, so 404 with validFrom
    (425 Too Early is about TLS early data, not about a resource's future)."""

    title = "Identifier not yet valid"


class IdentifierSuspended(IdnestError):
    """Suspended by its owner; the tenant's policy says refuse (core/lifecycle.py)."""

    rc = 100
    http_status = 403
    title = "Identifier suspended"


class HandleAlreadyExists(IdnestError):
    rc = 101
    http_status = 409
    title = "Handle already exists"


class InvalidHandle(IdnestError):
    rc = 102
    http_status = 400
    title = "Invalid handle"


class ValuesNotFound(IdnestError):
    rc = 200
    http_status = 400
    title = "Values not found"


class ValueAlreadyExists(IdnestError):
    rc = 201
    http_status = 409
    title = "Value already exists"


class InvalidValue(IdnestError):
    rc = 202
    http_status = 400
    title = "Invalid value"


class PrefixNotServed(IdnestError):
    rc = 301
    http_status = 400
    title = "Prefix not served here"


class PrefixNotServedRead(PrefixNotServed):
    """A read of a handle under a prefix this node does not serve: to the reader that is
    "no such handle" (404; pyhandle says HandleNotFound), still rc 301 for Handle clients."""

    http_status = 404


class InsufficientPermissions(IdnestError):
    rc = 401
    http_status = 403
    title = "Insufficient permissions"
    snms_status = SNMS_NO_PERMISSION


class AuthenticationNeeded(IdnestError):
    rc = 402
    http_status = 401
    title = "Authentication needed"
    snms_status = SNMS_NOT_LOGGED_IN


class AuthenticationFailed(IdnestError):
    """Credentials were given but are unknown, revoked or wrong.

    The Handle table pairs rc 403 with HTTP 403, but clients retry with new
    credentials on 401, so a failed authentication answers 401 (spine issue).
    """

    rc = 403
    http_status = 401
    title = "Authentication failed"
    snms_status = SNMS_NOT_LOGGED_IN


class NotFound(IdnestError):
    """A non-handle resource (tenant, key, page) that does not exist or is not yours."""

    rc = 100
    http_status = 404
    title = "Not found"


class Conflict(IdnestError):
    rc = 2
    http_status = 409
    title = "Conflict"


class ServiceUnavailable(IdnestError):
    rc = 3
    http_status = 503
    title = "Service unavailable"


class RateLimited(IdnestError):
    """Too many requests (core/ratelimit.py): HTTP 429 with ``Retry-After``, rc 3
    SERVER_TOO_BUSY on the wire, the SNMS envelope on SNMS routes."""

    rc = 3
    http_status = 429
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int = 1):
        super().__init__(detail)
        self.retry_after = retry_after


class UpstreamError(IdnestError):
    """The top-level node was unreachable or gave an answer we cannot use."""

    rc = 2
    http_status = 502
    title = "Top-level node error"


class EnterpriseNodeError(IdnestError):
    """A self-deployed tenant's own server answered something we cannot use: garbage,
    an error of its own, or referrals past the bound (a loop). docs/enterprise.md."""

    rc = 2
    http_status = 502
    title = "Enterprise node error"
    snms_status = SNMS_INTERNAL


class EnterpriseNodeTimeout(IdnestError):
    """No server of a self-deployed tenant answered in time, and nothing cached could
    stand in. rc 2: the REST dialect reads 301 as "prefix not served here"."""

    rc = 2
    http_status = 504
    title = "Enterprise node did not answer"
    snms_status = SNMS_INTERNAL


class WriteRefused(IdnestError):
    """A tenant may not create identifiers now, for a billing reason (core/quota.py):
    its plan's registration cap is reached, or its writes are suspended. Reads and
    resolution are never refused for these reasons."""

    rc = 604  # IDIS: registration count limit
    http_status = 402
    title = "Registration refused"

    def __init__(self, detail: str, *, reason: str, **kw: str | None):
        super().__init__(detail, field=kw.get("field"), handle=kw.get("handle"))
        self.reason = reason


class QuotaExceeded(WriteRefused):
    """The plan's hard cap on registrations in a month is reached."""

    title = "Registration quota exceeded"


def _classes() -> list[type[IdnestError]]:
    found: list[type[IdnestError]] = []
    todo: list[type[IdnestError]] = [IdnestError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


# The framework's own refusals, by HTTP status, as the Handle code a client reads.
_HTTP_STATUS_RC = {400: 2, 401: 402, 403: 401, 404: 100, 405: 2, 409: 2, 413: 2, 415: 2}
_HTTP_STATUS_RC.update({429: 3, 503: 3})


def rc_for_http_status(status: int) -> int:
    """The Handle response code for an HTTP refusal that is not an IdnestError."""
    return _HTTP_STATUS_RC.get(status, 2)


def snms_status_for_rc(rc: int) -> int:
    """The SNMS status of an error known only by its Handle code (a replayed answer)."""
    for cls in _classes():
        if cls.rc == rc and cls.snms_status != SNMS_BUSINESS:
            return cls.snms_status
    return SNMS_BUSINESS
