"""GS1 keys (GTIN, SSCC, GLN, GRAI, GIAI) and GS1 Digital Link URI paths.

A tenant registers GS1 keys under its verified GS1 company prefix, and the resolver
answers GS1 Digital Link paths such as ``/01/09506000134352/10/LOT1``. This module
promises:

- every key is checked against the GS1 General Specifications (length, character set,
  mod-10 check digit) and returned in one canonical form (GTINs as 14 digits), so the
  same product is never stored twice under two spellings;
- a Digital Link path is parsed per GS1 Digital Link 1.x (numeric AIs only, qualifiers
  in the order the GS1 Syntax Dictionary gives: ``01/22/10/21`` or ``01/235``,
  ``414/254`` or ``414/7040``, ``417/7040``, ``8004/7040``) into a `DigitalLinkKey`,
  whose canonical path and walk-up paths drive the resolver's look-ups;
- every failure is a `SchemeError` naming the problem.

Check digits and GS1 prefix/company-prefix tables come from ``biip`` (its check digit
is only called on ASCII digits: it would accept other Unicode digits). Biip's own
Digital Link parser needs a full URI, skips unknown path prefixes and offers no
walk-up, so the path grammar is written here. Values are taken exactly as given:
trim form input before calling.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, unquote

from biip import ParseError
from biip.checksums import gs1_standard_check_digit
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from biip.gs1_prefixes import GS1CompanyPrefix, GS1Prefix

from core.schemes import SchemeError

#: GS1 AI encodable character set 82 (GS1 General Specifications, figure 7.11-1).
CSET82: Final = frozenset(
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
#: Importer index characters of AI 7040 (GS1 Syntax Dictionary linter ``importeridx``).
_IMPORTER_INDEX: Final = frozenset(
    "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
_DIGITS: Final = frozenset("0123456789")
GCP_MIN_LENGTH: Final = 4
GCP_MAX_LENGTH: Final = 12
MAX_PATH_LENGTH: Final = 1024

AI_NAMES: Final[dict[str, str]] = {
    "00": "SSCC", "01": "GTIN", "10": "lot", "21": "serial", "22": "CPV", "235": "TPX",
    "254": "GLN extension", "414": "GLN", "417": "party GLN", "7040": "UIC extension",
    "8003": "GRAI", "8004": "GIAI",
}  # fmt: skip
#: Qualifier chains per primary key; alternatives are separate chains
#: (GS1 Syntax Dictionary ``dlpkey=22,10,21|235``).
QUALIFIER_CHAINS: Final[dict[str, tuple[tuple[str, ...], ...]]] = {
    "01": (("22", "10", "21"), ("235",)),
    "414": (("254",), ("7040",)),
    "417": (("7040",),),
    "00": (),
    "8003": (),
    "8004": (("7040",),),
}
#: Variable-length qualifier values: maximum length in CSET 82.
_QUALIFIER_MAX: Final = {"10": 20, "21": 20, "22": 20, "235": 28, "254": 20}
#: Primary keys GS1 Digital Link defines that this node does not register.
OTHER_PRIMARY_KEYS: Final = frozenset(
    {"253", "255", "401", "402", "415", "8006", "8010", "8013", "8017", "8018"}
)
#: Digital Link 1.0 short names, only to point the caller at the numeric AI.
_SHORT_NAMES: Final = {
    "gtin": "01", "cpv": "22", "lot": "10", "ser": "21", "sscc": "00", "gln": "414",
    "glnx": "254", "party": "417", "grai": "8003", "giai": "8004", "tpx": "235",
}  # fmt: skip
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _name(ai: str) -> str:
    return f"{AI_NAMES[ai]} (AI {ai})" if ai in AI_NAMES else f"AI {ai}"


def _require_digits(value: str, label: str) -> None:
    for i, ch in enumerate(value, start=1):
        if ch not in _DIGITS:
            raise SchemeError(
                f"{label} must contain digits only, got {ch!r} at position {i}", code="charset"
            )


def _require_cset82(value: str, label: str, max_length: int) -> None:
    if not value:
        raise SchemeError(f"{label} must not be empty", code="length")
    if len(value) > max_length:
        raise SchemeError(
            f"{label} is at most {max_length} characters, got {len(value)}", code="length"
        )
    for i, ch in enumerate(value, start=1):
        if ch not in CSET82:
            raise SchemeError(
                f"{label} contains {ch!r} at position {i}, "
                "which is not in the GS1 character set 82",
                code="charset",
            )


def gs1_check_digit(digits: str) -> int:
    """GS1 mod-10 check digit of `digits` (weights 3, 1, … from the rightmost data digit)."""
    if not digits:
        raise SchemeError("check digit needs at least one digit", code="length")
    _require_digits(digits, "check digit input")
    return gs1_standard_check_digit(digits)


def _require_check_digit(body: str, given: str, label: str) -> None:
    expected = gs1_check_digit(body)
    if str(expected) != given:
        raise SchemeError(
            f"{label} check digit should be {expected}, got {given}", code="check_digit"
        )


def validate_gtin(value: str) -> str:
    """Validate a GTIN-8/12/13/14 and return it as 14 digits (left-padded with zeros)."""
    if len(value) not in (8, 12, 13, 14):
        raise SchemeError(f"GTIN must be 8, 12, 13 or 14 digits, got {len(value)}", code="length")
    _require_digits(value, "GTIN")
    _require_check_digit(value[:-1], value[-1], "GTIN")
    return value.zfill(14)


def _validate_fixed(value: str, length: int, label: str) -> str:
    if len(value) != length:
        raise SchemeError(f"{label} must be {length} digits, got {len(value)}", code="length")
    _require_digits(value, label)
    _require_check_digit(value[:-1], value[-1], label)
    return value


def validate_sscc(value: str) -> str:
    """Validate an SSCC (AI 00): 18 digits with a mod-10 check digit."""
    return _validate_fixed(value, 18, "SSCC")


def validate_gln(value: str, *, label: str = "GLN") -> str:
    """Validate a GLN (AI 414, or a party GLN, AI 417): 13 digits with a check digit."""
    return _validate_fixed(value, 13, label)


def validate_grai(value: str) -> str:
    """Validate a GRAI in its AI 8003 form: filler ``0``, 13 digits ending in a check
    digit (company prefix + asset type), then an optional serial of up to 16 CSET 82
    characters. The filler is required, not added: a 13-digit GRAI beginning with ``0``
    (a U.P.C. company prefix) would otherwise be ambiguous."""
    if len(value) < 14 or len(value) > 30:
        raise SchemeError(
            f"GRAI (AI 8003) must be 14 to 30 characters, got {len(value)}", code="length"
        )
    if value[0] != "0":
        raise SchemeError(
            f"GRAI (AI 8003) must start with the filler digit 0, got {value[0]!r}",
            code="syntax",
        )
    _require_digits(value[:14], "GRAI (first 14 characters)")
    _require_check_digit(value[1:13], value[13], "GRAI")
    if len(value) > 14:
        _require_cset82(value[14:], "GRAI serial", 16)
    return value


def validate_giai(value: str) -> str:
    """Validate a GIAI (AI 8004): up to 30 CSET 82 characters that start with a GS1
    company prefix, so at least its first four characters are digits."""
    _require_cset82(value, "GIAI (AI 8004)", 30)
    if len(value) < GCP_MIN_LENGTH:
        raise SchemeError(
            f"GIAI must start with a GS1 company prefix of at least {GCP_MIN_LENGTH} digits",
            code="length",
        )
    _require_digits(value[:GCP_MIN_LENGTH], "GIAI company prefix")
    return value


_KEY_VALIDATORS: Final = {
    "01": validate_gtin,
    "00": validate_sscc,
    "414": validate_gln,
    "417": lambda v: validate_gln(v, label="party GLN"),
    "8003": validate_grai,
    "8004": validate_giai,
}

#: Where the company prefix starts in each key, and where its check digit is cut off
#: (a GIAI has none: company prefix + asset reference).
_GCP_SLICES: Final = {
    "01": slice(1, 13), "00": slice(1, 17), "414": slice(0, 12), "417": slice(0, 12),
    "8003": slice(1, 13), "8004": slice(None),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class GS1Key:
    """A validated GS1 key: its AI (``01``, ``00``, ``414``, ``417``, ``8003``, ``8004``)
    and its canonical value."""

    ai: str
    value: str

    @property
    def kind(self) -> str:
        return AI_NAMES[self.ai]

    @property
    def company_prefix_digits(self) -> str:
        """The part of the key that begins with the GS1 company prefix, without the
        indicator/extension/filler digit in front and the check digit behind."""
        return self.value[_GCP_SLICES[self.ai]]


def parse_gs1_key(ai: str, value: str) -> GS1Key:
    """Validate `value` as the key named by `ai` and return it in canonical form."""
    validator = _KEY_VALIDATORS.get(ai)
    if validator is None:
        raise SchemeError(f"AI {ai!r} is not a GS1 key this node registers", code="unknown_ai")
    return GS1Key(ai, validator(value))


def validate_company_prefix(prefix: str) -> str:
    """Validate a GS1 company prefix: 4 to 12 ASCII digits."""
    if not GCP_MIN_LENGTH <= len(prefix) <= GCP_MAX_LENGTH:
        raise SchemeError(
            f"GS1 company prefix must be {GCP_MIN_LENGTH} to {GCP_MAX_LENGTH} digits, "
            f"got {len(prefix)}",
            code="length",
        )
    _require_digits(prefix, "GS1 company prefix")
    return prefix


def is_china_prefix(digits: str) -> bool:
    """True when `digits` (a company prefix, or a key's `company_prefix_digits`) falls
    in GS1 China's range 690–699. Other countries' prefixes are valid too."""
    return len(digits) >= 3 and digits[:2] == "69" and digits[2] in _DIGITS


def gs1_prefix_usage(digits: str) -> str | None:
    """Who issues the GS1 prefix `digits` starts with, e.g. ``"GS1 China"``, from
    biip's copy of the GS1 prefix list; None when unknown. For staff review."""
    if not digits or any(ch not in _DIGITS for ch in digits):
        return None
    prefix = GS1Prefix.extract(digits)
    return prefix.usage if prefix else None


def known_company_prefix(key: GS1Key | DigitalLinkKey) -> str | None:
    """The company prefix GS1's published prefix-length table gives for `key` (via
    biip), or None when the table does not know it. A hint for staff review only."""
    gs1_key = key.key if isinstance(key, DigitalLinkKey) else key
    digits = gs1_key.company_prefix_digits
    if gs1_key.ai == "8004":
        digits = digits[: len(digits) - len(digits.lstrip("0123456789"))]
    if len(digits) < GCP_MIN_LENGTH:
        return None
    found = GS1CompanyPrefix.extract(digits)
    return found.value if found else None


def gs1_company_prefix_matches(key: GS1Key | DigitalLinkKey, company_prefix: str) -> bool:
    """True when `key` was allocated under `company_prefix` (validated first)."""
    validate_company_prefix(company_prefix)
    gs1_key = key.key if isinstance(key, DigitalLinkKey) else key
    digits = gs1_key.company_prefix_digits
    if gs1_key.ai == "8004" and len(digits) <= len(company_prefix):
        return False  # a GIAI needs an asset reference after the prefix
    return digits.startswith(company_prefix)


def _validate_qualifier(ai: str, value: str) -> str:
    if ai == "7040":
        if len(value) != 4:
            raise SchemeError(f"{_name(ai)} must be 4 characters, got {len(value)}", code="length")
        _require_digits(value[0], _name(ai))
        _require_cset82(value[1:3], _name(ai), 2)
        if value[3] not in _IMPORTER_INDEX:
            raise SchemeError(
                f"{_name(ai)} importer index {value[3]!r} is not allowed", code="charset"
            )
        return value
    _require_cset82(value, _name(ai), _QUALIFIER_MAX[ai])
    return value


def _is_known_ai(segment: str) -> bool:
    if segment in AI_NAMES or segment in OTHER_PRIMARY_KEYS:
        return True  # the resolver's hot path: no scan of biip's AI table
    try:
        return GS1ApplicationIdentifier.extract(segment).ai == segment
    except ParseError:
        return False


def _check_ai_segment(segment: str, *, primary: bool) -> None:
    if segment in _SHORT_NAMES:
        raise SchemeError(
            f"use the numeric AI {_SHORT_NAMES[segment]} instead of the short name {segment!r}",
            code="unknown_ai",
        )
    if not segment or any(ch not in _DIGITS for ch in segment) or not _is_known_ai(segment):
        raise SchemeError(f"{segment!r} is not a GS1 Application Identifier", code="unknown_ai")
    if primary and segment in OTHER_PRIMARY_KEYS:
        raise SchemeError(
            f"AI {segment} is a GS1 Digital Link primary key this node does not serve",
            code="unsupported_key",
        )
    if primary and segment not in QUALIFIER_CHAINS:
        raise SchemeError(
            f"AI {segment} cannot start a Digital Link path; it must start with a primary "
            "key (01, 00, 414, 417, 8003 or 8004)",
            code="syntax",
        )


@dataclass(frozen=True, slots=True)
class DigitalLinkKey:
    """A parsed GS1 Digital Link path: primary key plus ordered qualifiers."""

    primary_ai: str
    primary_value: str
    qualifiers: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> GS1Key:
        return GS1Key(self.primary_ai, self.primary_value)

    def canonical_path(self) -> str:
        """Numeric AIs, GTIN as 14 digits, values percent-encoded (``/`` → ``%2F``)."""
        return _render(self.primary_ai, self.primary_value, self.qualifiers)

    def walk_up_paths(self) -> list[str]:
        """Candidate paths from the most specific to the primary key alone, e.g.
        ``/01/X/10/L/21/S`` → ``[/01/X/10/L/21/S, /01/X/10/L, /01/X]``."""
        return [
            _render(self.primary_ai, self.primary_value, self.qualifiers[:n])
            for n in range(len(self.qualifiers), -1, -1)
        ]

    def __str__(self) -> str:
        return self.canonical_path()


def _render(ai: str, value: str, qualifiers: tuple[tuple[str, str], ...]) -> str:
    parts = [f"/{ai}/{quote(value, safe='')}"]
    parts.extend(f"/{q}/{quote(v, safe='')}" for q, v in qualifiers)
    return "".join(parts)


def build_digital_link(
    primary_ai: str, primary_value: str, qualifiers: tuple[tuple[str, str], ...] = ()
) -> DigitalLinkKey:
    """Validate decoded parts and return the `DigitalLinkKey` (e.g. at registration)."""
    _check_ai_segment(primary_ai, primary=True)
    for ai, _ in qualifiers:
        _check_ai_segment(ai, primary=False)
    return _assemble(primary_ai, primary_value, qualifiers)


def _assemble(
    primary_ai: str, primary_value: str, qualifiers: tuple[tuple[str, str], ...]
) -> DigitalLinkKey:
    key = parse_gs1_key(primary_ai, primary_value)
    chains = QUALIFIER_CHAINS[primary_ai]
    allowed = [ai for chain in chains for ai in chain]
    chain: tuple[str, ...] | None = None
    last = -1
    checked: list[tuple[str, str]] = []
    for ai, value in qualifiers:
        if ai not in allowed:
            allowed_text = ", ".join(allowed) if allowed else "none"
            raise SchemeError(
                f"AI {ai} is not a qualifier of {_name(primary_ai)}; allowed: {allowed_text}",
                code="qualifier_not_allowed",
            )
        if chain is None:
            chain = next(c for c in chains if ai in c)
        elif ai not in chain:
            raise SchemeError(
                f"AI {ai} cannot be combined with AI {chain[0]} under AI {primary_ai}",
                code="qualifier_not_allowed",
            )
        position = chain.index(ai)
        if position <= last:
            problem = "appears twice" if position == last else f"must come before AI {chain[last]}"
            order = "/".join((primary_ai, *chain))
            raise SchemeError(
                f"AI {ai} {problem}; the path order is {order}", code="qualifier_order"
            )
        last = position
        checked.append((ai, _validate_qualifier(ai, value)))
    return DigitalLinkKey(key.ai, key.value, tuple(checked))


def parse_digital_link_path(path: str) -> DigitalLinkKey:
    """Parse a Digital Link URI path (no scheme, host or query), e.g.
    ``/01/9506000134352/10/AB%2F1``; values are percent-decoded."""
    if len(path) > MAX_PATH_LENGTH:
        raise SchemeError(
            f"Digital Link path is at most {MAX_PATH_LENGTH} characters", code="length"
        )
    if not path.startswith("/"):
        raise SchemeError("a Digital Link path must start with '/'", code="syntax")
    if "?" in path or "#" in path:
        raise SchemeError("pass the path without its query string or fragment", code="syntax")
    body = path[1:-1] if path.endswith("/") and len(path) > 1 else path[1:]
    if not body:
        raise SchemeError("the Digital Link path is empty", code="syntax")
    segments = body.split("/")
    _check_ai_segment(segments[0], primary=True)
    if len(segments) % 2:
        raise SchemeError(
            "a Digital Link path is pairs of /AI/value; the last AI has no value", code="syntax"
        )
    pairs: list[tuple[str, str]] = []
    for i in range(0, len(segments), 2):
        ai, raw = segments[i], segments[i + 1]
        if i:
            _check_ai_segment(ai, primary=False)
        if not raw:
            raise SchemeError(f"{_name(ai)} has an empty value", code="syntax")
        if _BAD_PERCENT.search(raw):
            raise SchemeError(f"{_name(ai)} has a malformed percent-escape", code="syntax")
        try:
            value = unquote(raw, errors="strict")
        except UnicodeDecodeError:
            raise SchemeError(
                f"{_name(ai)} percent-decodes to invalid UTF-8", code="charset"
            ) from None
        pairs.append((ai, value))
    (primary_ai, primary_value), *qualifiers = pairs
    return _assemble(primary_ai, primary_value, tuple(qualifiers))
