"""One exception hierarchy for every door.

Each error carries the Handle response code (``rc``) it means, the HTTP status the
Handle.net REST dialect pairs with it, and a message that names the problem. The HTTP
layer maps these once to problem+json (RFC 9457); the wire protocol maps them once to
Handle response codes. Services raise these and nothing else for expected failures.
"""

from __future__ import annotations

from typing import ClassVar


class IdnestError(Exception):
    """Base of every expected failure. Never shown as a 500."""

    rc: ClassVar[int] = 2
    http_status: ClassVar[int] = 500
    title: ClassVar[str] = "Error"

    def __init__(self, detail: str, *, field: str | None = None, handle: str | None = None):
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.handle = handle


class HandleNotFound(IdnestError):
    rc = 100
    http_status = 404
    title = "Handle not found"


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


class AuthenticationNeeded(IdnestError):
    rc = 402
    http_status = 401
    title = "Authentication needed"


class AuthenticationFailed(IdnestError):
    """Credentials were given but are unknown, revoked or wrong.

    The Handle table pairs rc 403 with HTTP 403, but clients retry with new
    credentials on 401, so a failed authentication answers 401 (spine issue).
    """

    rc = 403
    http_status = 401
    title = "Authentication failed"


class BadRequest(IdnestError):
    """Malformed request that is not about a handle or value (bad JSON, content type)."""

    rc = 2
    http_status = 400
    title = "Bad request"


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


class UpstreamError(IdnestError):
    """The top-level node was unreachable or gave an answer we cannot use."""

    rc = 2
    http_status = 502
    title = "Top-level node error"
