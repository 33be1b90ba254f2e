"""Money as integer fen (1/100 yuan). People type and read yuan with two decimals."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from core.errors import InvalidValue

# A price or fee above this (100 million yuan) is a typing mistake, not a plan.
MAX_FEN = 10_000_000_000


def parse_yuan(text: str, *, field: str = "amount") -> int:
    """``"100.00"`` (or ``"100"``, ``"0.5"``) as 10000 fen; at most two decimals."""
    raw = (text or "").strip()
    if not raw.isascii():
        raise InvalidValue(f"{field}: not an amount in yuan: {text!r}", field=field)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise InvalidValue(f"{field}: not an amount in yuan: {text!r}", field=field) from None
    if not value.is_finite() or value < 0:
        raise InvalidValue(f"{field}: must be zero or more yuan, got {text!r}", field=field)
    fen = value * 100
    if fen != fen.to_integral_value():
        raise InvalidValue(f"{field}: at most two decimals (fen), got {text!r}", field=field)
    if fen > MAX_FEN:
        raise InvalidValue(f"{field}: {text} yuan is more than this node allows", field=field)
    return int(fen)


def format_yuan(fen: int) -> str:
    """10000 -> ``"100.00"``; negative amounts (credits) keep their sign."""
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(fen), 100)
    return f"{sign}{whole}.{part:02d}"


def divide_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to the nearest integer, halves away from zero
    (the rounding a person checks an invoice with), in integers: no float ever."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    sign = -1 if numerator < 0 else 1
    q, r = divmod(abs(numerator), denominator)
    return sign * (q + (1 if 2 * r >= denominator else 0))
