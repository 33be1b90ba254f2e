"""Dotted-numeric object identifiers (OIDs, ITU-T X.660 | ISO/IEC 9834-1).

The node holds a configured OID arc and gives each tenant a sub-arc; tenants register
OIDs under it that resolve at ``/oid/{dotted}``. This module promises that an accepted
OID is in its one canonical spelling, so string comparison is identity:

- arcs are non-negative ASCII decimal integers without leading zeros (``0`` itself is
  fine), separated by single dots;
- the first arc is 0, 1 or 2, and under 0 or 1 the second arc is at most 39 (X.660);
- an OID has at most `MAX_ARCS` arcs and `MAX_LENGTH` characters, bounds chosen to
  refuse abuse, not taken from X.660 (which sets none; arcs under ``2.25`` are 128-bit
  UUIDs, so single arcs are not bounded separately).
"""

from __future__ import annotations

from typing import Final

from core.schemes import SchemeError

MAX_ARCS: Final = 128
MAX_LENGTH: Final = 1024
_DIGITS: Final = frozenset("0123456789")


def validate_oid(oid: str) -> str:
    """Validate a dotted-numeric OID and return it unchanged (it is already canonical)."""
    if not oid:
        raise SchemeError("OID must not be empty", code="length")
    if len(oid) > MAX_LENGTH:
        raise SchemeError(f"OID is at most {MAX_LENGTH} characters, got {len(oid)}", code="length")
    arcs = oid.split(".")
    if len(arcs) > MAX_ARCS:
        raise SchemeError(f"OID has at most {MAX_ARCS} arcs, got {len(arcs)}", code="length")
    for number, arc in enumerate(arcs, start=1):
        if not arc:
            raise SchemeError(
                f"OID arc {number} is empty (leading, trailing or doubled dot)", code="syntax"
            )
        bad = next((ch for ch in arc if ch not in _DIGITS), None)
        if bad is not None:
            raise SchemeError(
                f"OID arc {number} must be a non-negative integer, got {arc!r}", code="charset"
            )
        if len(arc) > 1 and arc[0] == "0":
            raise SchemeError(
                f"OID arc {number} must not have a leading zero, got {arc!r}",
                code="leading_zero",
            )
    if arcs[0] not in ("0", "1", "2"):
        raise SchemeError(f"OID first arc must be 0, 1 or 2, got {arcs[0]}", code="range")
    if arcs[0] in ("0", "1") and len(arcs) > 1 and (len(arcs[1]) > 2 or int(arcs[1]) > 39):
        raise SchemeError(
            f"OID second arc must be at most 39 under {arcs[0]}, got {arcs[1]}", code="range"
        )
    return oid


def oid_arcs(oid: str) -> tuple[int, ...]:
    """The arcs of a valid OID as integers."""
    return tuple(int(arc) for arc in validate_oid(oid).split("."))


def oid_is_under(oid: str, arc: str, *, or_equal: bool = False) -> bool:
    """True when `oid` lies strictly below `arc` (or is `arc`, with ``or_equal=True``).

    Both are validated first, so an invalid one raises `SchemeError` rather than
    quietly answering False. ``1.2.30`` is not under ``1.2.3``: arcs are compared whole.
    """
    validate_oid(oid)
    validate_oid(arc)
    if oid == arc:
        return or_equal
    return oid.startswith(arc + ".")


def oid_child(arc: str, number: int) -> str:
    """The OID of sub-arc `number` under `arc`, e.g. a tenant's arc under the node's."""
    if number < 0:
        raise SchemeError(f"OID arc must be a non-negative integer, got {number}", code="range")
    return validate_oid(f"{validate_oid(arc)}.{number}")
