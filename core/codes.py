"""Codes a company and its contact give at onboarding.

The signup and review forms check these before anything is stored, so staff review
sees only well-formed codes and the applicant is told exactly what to fix:

- the unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters
  from ``0123456789ABCDEFGHJKLMNPQRTUWXY``, positions 3–8 the administrative division
  code (digits), position 18 a mod-31 check character;
- the resident identity card number (居民身份证号码, GB 11643): 17 digits, a check
  character (``0``–``9`` or ``X``), and a real birth date in positions 7–14.

Both validators trim surrounding whitespace and upper-case the input, and return the
normalised form. A resident identity number is personal information: store it
encrypted and show it only through `mask_resident_id`.

Failures raise `CodeError` with the form `field`, an English `message` and a stable
`code` ("length", "charset", "check_digit", "birth_date") the portal can translate.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

__all__ = [
    "CodeError",
    "mask_mobile",
    "mask_resident_id",
    "validate_credit_code",
    "validate_resident_id",
]

CREDIT_CODE_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_VALUES: Final = {ch: i for i, ch in enumerate(CREDIT_CODE_ALPHABET)}
_CREDIT_WEIGHTS: Final = tuple(pow(3, i, 31) for i in range(17))
_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK: Final = "10X98765432"
_DIGITS: Final = frozenset("0123456789")


class CodeError(ValueError):
    """An onboarding code that breaks its standard's rules."""

    def __init__(self, field: str, message: str, *, code: str = "invalid") -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.code = code

    def __repr__(self) -> str:
        return f"CodeError({self.field!r}, {self.message!r}, code={self.code!r})"


def credit_code_check_character(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters of a credit code."""
    total = sum(_CREDIT_VALUES[ch] * w for ch, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def validate_credit_code(code: str, *, field: str = "credit_code") -> str:
    """Validate a unified social credit code and return it upper-cased."""
    value = code.strip().upper()
    if len(value) != 18:
        raise CodeError(
            field,
            f"unified social credit code must be 18 characters, got {len(value)}",
            code="length",
        )
    for i, ch in enumerate(value, start=1):
        if ch not in _CREDIT_VALUES:
            raise CodeError(
                field,
                f"character {ch!r} at position {i} is not allowed; the code uses digits "
                "and the letters A-Z except I, O, S, V and Z",
                code="charset",
            )
    division = value[2:8]
    if any(ch not in _DIGITS for ch in division):
        raise CodeError(
            field,
            f"positions 3-8 are the administrative division code and must be digits, "
            f"got {division}",
            code="charset",
        )
    expected = credit_code_check_character(value[:17])
    if value[17] != expected:
        raise CodeError(
            field,
            f"check character should be {expected}, got {value[17]}",
            code="check_digit",
        )
    return value


def resident_id_check_character(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits of an identity number."""
    total = sum(int(ch) * w for ch, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def validate_resident_id(
    number: str, *, field: str = "resident_id", today: dt.date | None = None
) -> str:
    """Validate an 18-character resident identity number and return it with an
    upper-case ``X``. The birth date must be a real date, not after `today`."""
    value = number.strip().upper()
    if len(value) == 15 and all(ch in _DIGITS for ch in value):
        raise CodeError(
            field,
            "15-digit first-generation numbers are not accepted; enter the 18-character number",
            code="length",
        )
    if len(value) != 18:
        raise CodeError(
            field,
            f"resident identity number must be 18 characters, got {len(value)}",
            code="length",
        )
    for i, ch in enumerate(value[:17], start=1):
        if ch not in _DIGITS:
            raise CodeError(
                field, f"character {ch!r} at position {i} must be a digit", code="charset"
            )
    if value[17] not in _ID_CHECK:
        raise CodeError(
            field,
            f"the last character must be a digit or X, got {value[17]!r}",
            code="charset",
        )
    birth = value[6:14]
    try:
        born = dt.date(int(birth[:4]), int(birth[4:6]), int(birth[6:]))
    except ValueError:
        raise CodeError(
            field,
            f"birth date {birth} in positions 7-14 is not a real date",
            code="birth_date",
        ) from None
    if born > (today or dt.date.today()):
        raise CodeError(field, f"birth date {birth} is in the future", code="birth_date")
    expected = resident_id_check_character(value[:17])
    if value[17] != expected:
        raise CodeError(
            field,
            f"check character should be {expected}, got {value[17]}",
            code="check_digit",
        )
    return value


def mask_resident_id(number: str) -> str:
    """Show a resident identity number as its first 3 and last 4 characters with the
    rest starred, e.g. ``110***********123X``.

    The first 3 give only the province and the start of the city code; the birth date
    (positions 7–14) is always hidden. The last 4 are what a person recognises as their
    own. Anything shorter than 8 characters is starred entirely, so masking never
    reveals most of a malformed value.
    """
    value = number.strip().upper()
    if len(value) < 8:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_mobile(number: str) -> str:
    """A mobile number as the UI, logs and exports show it: ``138****8000`` (the first 3
    digits name the carrier, the last 4 are what a person recognises)."""
    value = number.strip()
    if len(value) < 8:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_email(address: str) -> str:
    """An address as logs and audit entries may show it: ``z***@example.com``."""
    local, at, domain = address.strip().partition("@")
    return f"{local[:1]}***{at}{domain[:253]}" if local else "***"
