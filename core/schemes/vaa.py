"""VAA identifiers (工业互联网标识 VAA, allocated by 中国信通院 / CAICT).

A tenant registers VAA identifiers under an issuer code (``VAA`` plus the company
identification number CAICT gave it) that staff verify in review; this module checks a
code's structure and that it lies under one of the tenant's issuer codes.

What is verified from public material:

- VAA is an issuing agency code (IAC) under ISO/IEC 15459, assigned to CAICT through
  the ISO/IEC 15459 registration authority (AIM) in 2020; CAICT allocates VAA codes
  following the ISO/IEC 15459 encoding rules [《工业互联网标识解析 VAA编码导则》,
  AII, 2021-10, overview section; AIM's ISO/IEC 15459 registration authority page].
- An ISO/IEC 15459 identity is the IAC, then the company identification number (CIN)
  the IAC's holder assigned, then a part unique within the CIN holder's domain, e.g.
  EDIFICE's ``LE`` + ``XYZ`` + serial and E.D.C.'s ``QC`` + CIN + serial [edifice.org
  license-plate page; e-d-c.info company-code page; id-link.eu data identifier list].
  So every VAA identifier starts with ``VAA`` and has something after it.
- ISO/IEC 15459 parts 1 and 4 each fix a maximum number of characters and a
  permissible character set (clauses 5.2 and 5.3) [published tables of contents]; the
  values were not found in public material, hence the parameters below.

What is not verified, and therefore a parameter of `VaaRules`. Where a default narrows
what is accepted it is the strict choice, because loosening a rule later never
invalidates stored codes while tightening one would; the CIN length is unknown, so it
is not enforced rather than guessed:

- `charset`: default digits and upper-case letters; `fold_case` (default on)
  upper-cases input first, which can never merge two valid codes under that charset;
- `extra_chars`: separators some representations may use (e.g. ``.``), default none;
- `max_length`: default 50, the figure usually quoted for ISO/IEC 15459-4 item
  identities, unverified;
- `cin_length`: the length of CAICT's CINs, default unknown, in which case the CIN is
  not split out and the namespace check relies on the tenant's issuer codes alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from core.schemes import SchemeError

VAA_IAC: Final = "VAA"
DIGITS_AND_UPPER: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True, slots=True)
class VaaRules:
    """The configurable part of VAA validation; see the module docstring."""

    charset: str = DIGITS_AND_UPPER
    extra_chars: str = ""
    fold_case: bool = True
    max_length: int = 50
    cin_length: int | None = None


DEFAULT_RULES: Final = VaaRules()


@dataclass(frozen=True, slots=True)
class VaaCode:
    """A validated VAA identifier. `cin` and `item` are None while `cin_length` is unknown."""

    code: str
    cin: str | None
    item: str | None
    issuer_code: str | None


def _clean(code: str, rules: VaaRules, label: str) -> str:
    if rules.fold_case:
        code = code.upper()
    if not code:
        raise SchemeError(f"{label} must not be empty", code="length")
    if len(code) > rules.max_length:
        raise SchemeError(
            f"{label} is at most {rules.max_length} characters, got {len(code)}", code="length"
        )
    if not code.startswith(VAA_IAC):
        raise SchemeError(
            f"{label} must start with the issuing agency code {VAA_IAC}, got {code[:3]!r}",
            code="prefix",
        )
    allowed = rules.charset + rules.extra_chars
    for i, ch in enumerate(code, start=1):
        if ch not in allowed:
            what = (
                "digits and upper-case letters"
                if allowed == DIGITS_AND_UPPER
                else f"the characters {allowed!r}"
            )
            raise SchemeError(
                f"{label} contains {ch!r} at position {i}; allowed are {what}", code="charset"
            )
    if len(code) == len(VAA_IAC):
        raise SchemeError(f"{label} has nothing after {VAA_IAC}", code="length")
    return code


def validate_vaa_issuer_code(issuer_code: str, *, rules: VaaRules = DEFAULT_RULES) -> str:
    """Validate an issuer code (``VAA`` + CIN) and return it normalised."""
    code = _clean(issuer_code, rules, "VAA issuer code")
    if rules.cin_length is not None and len(code) != len(VAA_IAC) + rules.cin_length:
        raise SchemeError(
            f"VAA issuer code is {VAA_IAC} plus a {rules.cin_length}-character CIN, "
            f"got {len(code) - len(VAA_IAC)} characters after {VAA_IAC}",
            code="length",
        )
    return code


def validate_vaa(
    code: str,
    issuer_codes: Iterable[str] | None = None,
    *,
    rules: VaaRules = DEFAULT_RULES,
) -> VaaCode:
    """Validate a VAA identifier and, when `issuer_codes` is given, that it lies
    strictly under one of them (the tenant's namespace)."""
    value = _clean(code, rules, "VAA identifier")
    cin = item = None
    if rules.cin_length is not None:
        cin = value[len(VAA_IAC) : len(VAA_IAC) + rules.cin_length]
        item = value[len(VAA_IAC) + rules.cin_length :]
        if len(cin) < rules.cin_length or not item:
            raise SchemeError(
                f"VAA identifier needs a {rules.cin_length}-character CIN after {VAA_IAC} "
                "and then the item's own part",
                code="length",
            )
    issuer = None
    if issuer_codes is not None:
        normalised = [validate_vaa_issuer_code(i, rules=rules) for i in issuer_codes]
        issuer = next((i for i in normalised if value.startswith(i) and value != i), None)
        if issuer is None:
            raise SchemeError(
                f"VAA identifier {value} is not under this tenant's issuer codes",
                code="namespace",
            )
    return VaaCode(value, cin, item, issuer)
