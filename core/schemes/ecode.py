"""Ecode identifiers (物联网标识体系 物品编码Ecode, GB/T 31866).

A tenant registers Ecodes under an issuer code that staff verify in review; this module
checks a code's structure and that it lies under one of the tenant's issuer codes.

What is verified from public material (the standard texts themselves are sold, not
published, so only these points could be checked):

- GB/T 31866-2015 was replaced by GB/T 31866-2023 (issued 2023-05-23, in force
  2023-12-01) [chinesestandard.net listing of GB/T 31866-2023].
- An Ecode is made of a version (V), a numbering system identifier (NSI, 编码体系标识,
  also 编码方案标识) and a master data code (MD, 主码), in that order [abbreviation
  lists of GB/T 38662-2020 and of the draft 《物联网标识体系 Ecode在一维条码中的存储》,
  both quoted on public standard-sharing sites].
- The current versions are named Ecode-V0 to Ecode-V3, and V0 is reserved for GS1
  compatibility (in a linear bar code a V0 code carries neither V nor NSI) [the same
  draft; a published summary of what the 2023 revision changed].

What is not verified, and therefore a parameter of `EcodeRules`. Where a default
narrows what is accepted it is the strict choice, because loosening a rule later never
invalidates stored codes while tightening one would; where nothing is known (layouts,
check character) nothing is enforced rather than guessed:

- how many characters V occupies in the text form: `version_length`, default 1;
- which versions are accepted: `versions`, default V1–V3 (V0 codes are GS1 keys and
  belong to the GS1 scheme);
- NSI length and MD length limits per version: `EcodeVersionRule`, default unknown, in
  which case NSI and MD are not split out and only the total length is bounded;
- the character set: `charset`, default digits and upper-case letters; `fold_case`
  (default on) upper-cases input first, which can never merge two valid codes under
  that charset;
- the overall length bound `max_length`, default 256, a safety bound not from the
  standard;
- a check character: none is applied unless `check` is given (a callable returning an
  error message or None). No Ecode check-character rule was found in public material.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from core.schemes import SchemeError

DIGITS_AND_UPPER: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True, slots=True)
class EcodeVersionRule:
    """Layout of one version, to be filled in from GB/T 31866 when it is known."""

    nsi_length: int | None = None
    md_min_length: int = 1
    md_max_length: int | None = None


@dataclass(frozen=True, slots=True)
class EcodeRules:
    """The configurable part of Ecode validation; see the module docstring."""

    versions: Mapping[str, EcodeVersionRule] = field(
        default_factory=lambda: {v: EcodeVersionRule() for v in ("1", "2", "3")}
    )
    version_length: int = 1
    charset: str = DIGITS_AND_UPPER
    fold_case: bool = True
    max_length: int = 256
    check: Callable[[str], str | None] | None = None


DEFAULT_RULES: Final = EcodeRules()


@dataclass(frozen=True, slots=True)
class EcodeCode:
    """A validated Ecode. `nsi` and `md` are None while the version's layout is unknown."""

    code: str
    version: str
    nsi: str | None
    md: str | None
    issuer_code: str | None


def _clean(code: str, rules: EcodeRules, label: str) -> str:
    if rules.fold_case:
        code = code.upper()
    if not code:
        raise SchemeError(f"{label} must not be empty", code="length")
    if len(code) > rules.max_length:
        raise SchemeError(
            f"{label} is at most {rules.max_length} characters, got {len(code)}", code="length"
        )
    for i, ch in enumerate(code, start=1):
        if ch not in rules.charset:
            raise SchemeError(
                f"{label} contains {ch!r} at position {i}; allowed are {_describe(rules)}",
                code="charset",
            )
    return code


def _describe(rules: EcodeRules) -> str:
    if rules.charset == DIGITS_AND_UPPER:
        return "digits and upper-case letters"
    return f"the characters {rules.charset!r}"


def _version(code: str, rules: EcodeRules, label: str) -> tuple[str, EcodeVersionRule]:
    version = code[: rules.version_length]
    if len(code) <= rules.version_length:
        raise SchemeError(f"{label} has nothing after its version {version!r}", code="length")
    rule = rules.versions.get(version)
    if rule is None:
        if version == "0":
            raise SchemeError(
                "Ecode V0 is reserved for GS1 compatibility; register the GS1 key instead",
                code="version",
            )
        allowed = ", ".join(sorted(rules.versions)) or "none"
        raise SchemeError(
            f"{label} version {version!r} is not accepted (accepted: {allowed})", code="version"
        )
    return version, rule


def validate_ecode_issuer_code(issuer_code: str, *, rules: EcodeRules = DEFAULT_RULES) -> str:
    """Validate an issuer code (a leading part of the Ecodes a tenant may register) and
    return it normalised. It must include the version and at least one more character."""
    code = _clean(issuer_code, rules, "Ecode issuer code")
    _version(code, rules, "Ecode issuer code")
    return code


def validate_ecode(
    code: str,
    issuer_codes: Iterable[str] | None = None,
    *,
    rules: EcodeRules = DEFAULT_RULES,
) -> EcodeCode:
    """Validate an Ecode's structure and, when `issuer_codes` is given, that it lies
    strictly under one of them (the tenant's namespace)."""
    value = _clean(code, rules, "Ecode")
    version, rule = _version(value, rules, "Ecode")
    nsi = md = None
    if rule.nsi_length is not None:
        rest = value[rules.version_length :]
        nsi, md = rest[: rule.nsi_length], rest[rule.nsi_length :]
        if len(nsi) < rule.nsi_length or len(md) < rule.md_min_length:
            raise SchemeError(
                f"Ecode V{version} needs a {rule.nsi_length}-character NSI and a master "
                f"data code of at least {rule.md_min_length} characters",
                code="length",
            )
        if rule.md_max_length is not None and len(md) > rule.md_max_length:
            raise SchemeError(
                f"Ecode V{version} master data code is at most {rule.md_max_length} "
                f"characters, got {len(md)}",
                code="length",
            )
    if rules.check is not None:
        problem = rules.check(value)
        if problem:
            raise SchemeError(problem, code="check_digit")
    issuer = None
    if issuer_codes is not None:
        normalised = [validate_ecode_issuer_code(i, rules=rules) for i in issuer_codes]
        issuer = next((i for i in normalised if value.startswith(i) and value != i), None)
        if issuer is None:
            raise SchemeError(
                f"Ecode {value} is not under this tenant's issuer codes", code="namespace"
            )
    return EcodeCode(value, version, nsi, md, issuer)
