"""Identifier schemes other than the native Handle form: GS1, OID, Ecode and VAA.

Each module here is pure validation: no database, no HTTP, no settings. It takes a code
as text, says precisely what is wrong with it, or returns its normalised form and parts.
Every failure is a `SchemeError`, so each door (REST, SNMS API, console, resolver) maps
one exception type to its own answer, e.g. HTTP 400 with the message.
"""

from __future__ import annotations

__all__ = ["SchemeError", "prefixes_overlap"]


class SchemeError(ValueError):
    """A code that breaks its scheme's rules.

    `message` is a human sentence in English ("GTIN check digit should be 2, got 3").
    `code` is a stable machine-readable reason the portal can translate:
    "length", "charset", "check_digit", "syntax", "unknown_ai", "unsupported_key",
    "qualifier_not_allowed", "qualifier_order", "leading_zero", "range", "version",
    "prefix", "namespace".
    """

    def __init__(self, message: str, *, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __repr__(self) -> str:
        return f"SchemeError({self.message!r}, code={self.code!r})"


def prefixes_overlap(a: str, b: str) -> bool:
    """True when one namespace prefix is a prefix of the other (or they are equal).

    Staff reviewing a tenant's issuer code (Ecode, VAA) or GS1 company prefix use this
    to refuse one that overlaps another tenant's: prefix matching is only a safe
    namespace test when no granted prefix extends another.
    """
    return a.startswith(b) or b.startswith(a)
