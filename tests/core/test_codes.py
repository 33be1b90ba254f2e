"""Onboarding codes: unified social credit code and resident identity number (core.codes)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.codes import (
    CREDIT_CODE_ALPHABET,
    CodeError,
    credit_code_check_character,
    mask_resident_id,
    resident_id_check_character,
    validate_credit_code,
    validate_resident_id,
)

TODAY = dt.date(2026, 11, 24)


def error_of(func: Callable[..., object], *args: object, **kwargs: object) -> CodeError:
    with pytest.raises(CodeError) as info:
        func(*args, **kwargs)
    return info.value


# --- unified social credit code (GB 32100-2015) ---------------------------------


@pytest.mark.parametrize("code", ["91110000802100433B", "9144030071526726XG"])
def test_reference_credit_codes_are_valid(code: str) -> None:
    assert validate_credit_code(code) == code


def test_credit_code_is_trimmed_and_upper_cased() -> None:
    assert validate_credit_code("  9144030071526726xg\n") == "9144030071526726XG"


def test_reference_invalid_credit_code() -> None:
    err = error_of(validate_credit_code, "91310000MA1FL1MM3H")
    assert err.code == "check_digit"
    assert err.field == "credit_code"
    assert err.message == "check character should be 4, got H"


def test_wrong_check_character_names_the_right_one() -> None:
    err = error_of(validate_credit_code, "91110000802100433C")
    assert err.message == "check character should be B, got C"
    assert str(err) == err.message
    assert isinstance(err, ValueError)


@pytest.mark.parametrize(
    ("code", "error_code", "fragment"),
    [
        ("", "length", "must be 18 characters, got 0"),
        ("91110000802100433", "length", "got 17"),
        ("91110000802100433BB", "length", "got 19"),
        ("9111000080210O433B", "charset", "'O' at position 14"),
        ("9I110000802100433B", "charset", "'I' at position 2"),
        ("91110000802100S33B", "charset", "except I, O, S, V and Z"),
        ("91110000802100433Z", "charset", "'Z' at position 18"),
        ("91110000-02100433B", "charset", "'-' at position 9"),
        ("911A0000802100433B", "charset", "positions 3-8 are the administrative division code"),
        ("９1110000802100433B", "charset", "position 1"),
    ],
)
def test_invalid_credit_codes(code: str, error_code: str, fragment: str) -> None:
    err = error_of(validate_credit_code, code)
    assert err.code == error_code
    assert fragment in err.message


def test_credit_code_field_name_is_passed_through() -> None:
    assert error_of(validate_credit_code, "x", field="company.uscc").field == "company.uscc"


credit_bodies = st.tuples(
    st.text(alphabet=CREDIT_CODE_ALPHABET, min_size=2, max_size=2),
    st.text(alphabet="0123456789", min_size=6, max_size=6),
    st.text(alphabet=CREDIT_CODE_ALPHABET, min_size=9, max_size=9),
).map("".join)


@given(credit_bodies)
def test_any_body_with_computed_check_character_validates(body: str) -> None:
    code = body + credit_code_check_character(body)
    assert validate_credit_code(code) == code
    assert validate_credit_code(code.lower()) == code


@given(credit_bodies, st.integers(0, 17), st.integers(1, 30))
def test_changing_one_character_breaks_the_credit_code(body: str, pos: int, shift: int) -> None:
    code = body + credit_code_check_character(body)
    index = CREDIT_CODE_ALPHABET.index(code[pos])
    replacement = CREDIT_CODE_ALPHABET[(index + shift) % 31]
    if 2 <= pos <= 7 and not replacement.isdigit():
        replacement = str((int(code[pos]) + 1) % 10)
    changed = code[:pos] + replacement + code[pos + 1 :]
    with pytest.raises(CodeError):
        validate_credit_code(changed)


# --- resident identity number (GB 11643) ----------------------------------------


@pytest.mark.parametrize("number", ["11010519491231002X", "440524188001010014"])
def test_reference_resident_ids(number: str) -> None:
    """The two worked examples commonly quoted for GB 11643."""
    assert validate_resident_id(number, today=TODAY) == number


def test_resident_id_lower_case_x_is_normalised() -> None:
    assert validate_resident_id(" 11010519491231002x ", today=TODAY) == "11010519491231002X"


@pytest.mark.parametrize(
    ("number", "error_code", "fragment"),
    [
        ("110105491231002", "length", "15-digit first-generation numbers are not accepted"),
        ("1101051949123100", "length", "must be 18 characters, got 16"),
        ("11010519491231002XX", "length", "got 19"),
        ("11010519491231002A", "charset", "last character must be a digit or X, got 'A'"),
        ("1101051949123100X2", "charset", "'X' at position 17 must be a digit"),
        ("A1010519491231002X", "charset", "position 1"),
        ("110105194912310025", "check_digit", "check character should be X, got 5"),
        ("110105199902310023", "birth_date", "birth date 19990231 in positions 7-14"),
        ("110105199913010023", "birth_date", "not a real date"),
        ("110105190002290023", "birth_date", "not a real date"),  # 1900 was no leap year
        ("110105203001010023", "birth_date", "birth date 20300101 is in the future"),
    ],
)
def test_invalid_resident_ids(number: str, error_code: str, fragment: str) -> None:
    err = error_of(validate_resident_id, number, today=TODAY)
    assert err.code == error_code
    assert fragment in err.message
    assert err.field == "resident_id"


def test_leap_day_birth_date_is_real() -> None:
    body = "11010520000229001"
    number = body + resident_id_check_character(body)
    assert validate_resident_id(number, today=TODAY) == number


def test_birth_today_is_accepted_and_default_today_works() -> None:
    body = "110105" + TODAY.strftime("%Y%m%d") + "001"
    number = body + resident_id_check_character(body)
    assert validate_resident_id(number, today=TODAY) == number
    assert validate_resident_id("11010519491231002X") == "11010519491231002X"


resident_bodies = st.tuples(
    st.text(alphabet="0123456789", min_size=6, max_size=6),
    st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY).map(lambda d: d.strftime("%Y%m%d")),
    st.text(alphabet="0123456789", min_size=3, max_size=3),
).map("".join)


@given(resident_bodies)
def test_any_real_birth_date_with_computed_check_validates(body: str) -> None:
    number = body + resident_id_check_character(body)
    assert validate_resident_id(number, today=TODAY) == number


@given(resident_bodies, st.integers(0, 16), st.integers(1, 9))
def test_changing_one_digit_breaks_the_resident_id(body: str, pos: int, delta: int) -> None:
    number = body + resident_id_check_character(body)
    changed = number[:pos] + str((int(number[pos]) + delta) % 10) + number[pos + 1 :]
    with pytest.raises(CodeError) as info:
        validate_resident_id(changed, today=TODAY)
    assert info.value.code in ("check_digit", "birth_date")


# --- masking ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("11010519491231002X", "110***********002X"),
        ("11010519491231002x", "110***********002X"),
        ("440524188001010014", "440***********0014"),
        ("12345678", "123*5678"),
        ("1234567", "*******"),
        ("", ""),
    ],
)
def test_mask_resident_id(number: str, masked: str) -> None:
    assert mask_resident_id(number) == masked


@given(resident_bodies)
def test_mask_never_shows_the_birth_date(body: str) -> None:
    number = body + resident_id_check_character(body)
    masked = mask_resident_id(number)
    assert len(masked) == 18
    assert masked[6:14] == "*" * 8
    assert masked[:3] == number[:3] and masked[-4:] == number[-4:]
