"""Ecode and VAA identifiers (core.schemes.ecode, core.schemes.vaa).

The codes below are made up to exercise the verified structure (V + NSI + MD for Ecode;
the ``VAA`` issuing agency code + CIN + item part for VAA) and each configurable rule.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.schemes import SchemeError, prefixes_overlap
from core.schemes.ecode import (
    DIGITS_AND_UPPER,
    EcodeCode,
    EcodeRules,
    EcodeVersionRule,
    validate_ecode,
    validate_ecode_issuer_code,
)
from core.schemes.vaa import VaaCode, VaaRules, validate_vaa, validate_vaa_issuer_code


def ecode_error(code: str, *args: Any, **kwargs: Any) -> SchemeError:
    with pytest.raises(SchemeError) as info:
        validate_ecode(code, *args, **kwargs)
    return info.value


def vaa_error(code: str, *args: Any, **kwargs: Any) -> SchemeError:
    with pytest.raises(SchemeError) as info:
        validate_vaa(code, *args, **kwargs)
    return info.value


# --- Ecode, default rules -------------------------------------------------------


@pytest.mark.parametrize("code", ["10001000100000001", "2100000000000123", "3ABC123XYZ", "10"])
def test_ecode_structurally_valid(code: str) -> None:
    result = validate_ecode(code)
    assert result == EcodeCode(code, code[0], None, None, None)


def test_ecode_folds_case() -> None:
    assert validate_ecode("3abc123").code == "3ABC123"
    strict = EcodeRules(fold_case=False)
    assert ecode_error("3abc123", rules=strict).code == "charset"


@pytest.mark.parametrize(
    ("code", "error_code", "fragment"),
    [
        ("", "length", "must not be empty"),
        ("1", "length", "nothing after its version"),
        ("4123456", "version", "version '4' is not accepted (accepted: 1, 2, 3)"),
        ("9123456", "version", "not accepted"),
        ("0690123456789", "version", "reserved for GS1 compatibility"),
        ("1000-100", "charset", "'-' at position 5"),
        ("1000 100", "charset", "' ' at position 5"),
        ("1000.100", "charset", "digits and upper-case letters"),
        ("10001中文", "charset", "position 6"),
        ("1" * 257, "length", "at most 256 characters, got 257"),
    ],
)
def test_ecode_invalid(code: str, error_code: str, fragment: str) -> None:
    err = ecode_error(code)
    assert err.code == error_code
    assert fragment in err.message


def test_ecode_namespace() -> None:
    issuer = ["100010001"]
    assert validate_ecode("1000100010000123", issuer).issuer_code == "100010001"
    assert validate_ecode("1000100010000123", ["200", "100010001"]).issuer_code == "100010001"
    outside = ecode_error("1000100020000123", issuer)
    assert outside.code == "namespace"
    assert "not under this tenant's issuer codes" in outside.message
    assert ecode_error("100010001", issuer).code == "namespace"  # the issuer code itself
    assert ecode_error("1000100010000123", []).code == "namespace"


def test_ecode_issuer_codes_are_validated_too() -> None:
    assert validate_ecode_issuer_code("2abc") == "2ABC"
    with pytest.raises(SchemeError):
        validate_ecode_issuer_code("1")
    with pytest.raises(SchemeError):
        validate_ecode("1000100010000123", ["0690"])


# --- Ecode, configured rules ----------------------------------------------------

LAYOUT = EcodeRules(
    versions={
        "1": EcodeVersionRule(nsi_length=4, md_max_length=20),
        "2": EcodeVersionRule(nsi_length=3, md_min_length=5, md_max_length=28),
    }
)


def test_ecode_layout_splits_nsi_and_md() -> None:
    result = validate_ecode("1100012345", rules=LAYOUT)
    assert (result.version, result.nsi, result.md) == ("1", "1000", "12345")
    assert validate_ecode("200112345", rules=LAYOUT).nsi == "001"


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("1100", "4-character NSI and a master data code of at least 1"),
        ("11000", "4-character NSI"),
        ("20011234", "at least 5"),
        ("11000" + "1" * 21, "at most 20 characters, got 21"),
        ("3ABC", "accepted: 1, 2"),
    ],
)
def test_ecode_layout_errors(code: str, fragment: str) -> None:
    err = ecode_error(code, rules=LAYOUT)
    assert fragment in err.message


def test_ecode_other_configuration() -> None:
    digits_only = EcodeRules(charset="0123456789", max_length=32)
    assert validate_ecode("1234", rules=digits_only).code == "1234"
    err = ecode_error("12A4", rules=digits_only)
    assert err.code == "charset" and "'0123456789'" in err.message
    assert ecode_error("1" * 33, rules=digits_only).code == "length"

    two_char_version = EcodeRules(versions={"V1": EcodeVersionRule()}, version_length=2)
    assert validate_ecode("V1ABC", rules=two_char_version).version == "V1"

    with_v0 = EcodeRules(versions={"0": EcodeVersionRule(), "1": EcodeVersionRule()})
    assert validate_ecode("0690123", rules=with_v0).version == "0"

    def even_length(code: str) -> str | None:
        return None if len(code) % 2 == 0 else "Ecode check failed: odd length"

    checked = EcodeRules(check=even_length)
    assert validate_ecode("1234", rules=checked).code == "1234"
    err = ecode_error("123", rules=checked)
    assert (err.code, err.message) == ("check_digit", "Ecode check failed: odd length")


@given(st.sampled_from("123"), st.text(alphabet=DIGITS_AND_UPPER, min_size=1, max_size=100))
def test_generated_ecodes_validate_under_their_own_prefix(version: str, rest: str) -> None:
    code = version + rest
    assert validate_ecode(code).code == code
    assert validate_ecode(code.lower()).code == code
    if len(code) > 2:
        assert validate_ecode(code, [code[:2]]).issuer_code == code[:2]


# --- VAA ------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["VAA10001ABC123", "VAA1", "VAAX9" + "0" * 45])
def test_vaa_valid(code: str) -> None:
    assert validate_vaa(code) == VaaCode(code, None, None, None)


def test_vaa_folds_case() -> None:
    assert validate_vaa("vaa100abc").code == "VAA100ABC"
    assert vaa_error("vaa100abc", rules=VaaRules(fold_case=False)).code == "prefix"


@pytest.mark.parametrize(
    ("code", "error_code", "fragment"),
    [
        ("", "length", "must not be empty"),
        ("VAA", "length", "nothing after VAA"),
        ("VAB100", "prefix", "issuing agency code VAA, got 'VAB'"),
        ("LE100", "prefix", "got 'LE1'"),
        ("88.100.7/PUMP", "prefix", ""),
        ("VAA100.ABC", "charset", "'.' at position 7"),
        ("VAA100 ABC", "charset", "digits and upper-case letters"),
        ("VAA100/ABC", "charset", ""),
        ("VAA100标识", "charset", ""),
        ("VAA" + "1" * 48, "length", "at most 50 characters, got 51"),
    ],
)
def test_vaa_invalid(code: str, error_code: str, fragment: str) -> None:
    err = vaa_error(code)
    assert err.code == error_code
    assert fragment in err.message


def test_vaa_namespace() -> None:
    assert validate_vaa("VAA1000200A1", ["VAA10002"]).issuer_code == "VAA10002"
    assert validate_vaa("vaa1000200a1", ["vaa10002"]).issuer_code == "VAA10002"
    assert vaa_error("VAA1000300A1", ["VAA10002"]).code == "namespace"
    assert vaa_error("VAA10002", ["VAA10002"]).code == "namespace"
    with pytest.raises(SchemeError):
        validate_vaa("VAA1000200A1", ["10002"])  # an issuer code must start with VAA


def test_vaa_configured_rules() -> None:
    rules = VaaRules(cin_length=5, extra_chars=".", max_length=35)
    result = validate_vaa("VAA10002.PUMP.0001", ["VAA10002"], rules=rules)
    assert (result.cin, result.item, result.issuer_code) == ("10002", ".PUMP.0001", "VAA10002")
    assert vaa_error("VAA1000", rules=rules).code == "length"
    assert vaa_error("VAA10002", rules=rules).code == "length"
    assert vaa_error("VAA" + "1" * 33, rules=rules).code == "length"
    with pytest.raises(SchemeError) as info:
        validate_vaa_issuer_code("VAA100", rules=rules)
    assert "5-character CIN" in info.value.message
    assert validate_vaa_issuer_code("vaa10002", rules=rules) == "VAA10002"


@given(st.text(alphabet=DIGITS_AND_UPPER, min_size=1, max_size=47))
def test_generated_vaa_codes(rest: str) -> None:
    code = "VAA" + rest
    assert validate_vaa(code).code == code
    if len(code) > 4:
        assert validate_vaa(code, [code[:4]]).issuer_code == code[:4]


# --- namespace overlap for review ------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        ("VAA100", "VAA1001", True),
        ("VAA1001", "VAA100", True),
        ("VAA100", "VAA100", True),
        ("VAA100", "VAA101", False),
        ("6901234", "690123", True),
        ("6901234", "6901235", False),
    ],
)
def test_prefixes_overlap(a: str, b: str, overlap: bool) -> None:
    assert prefixes_overlap(a, b) is overlap
