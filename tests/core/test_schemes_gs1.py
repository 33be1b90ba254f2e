"""GS1 keys, company prefixes and Digital Link paths (core.schemes.gs1)."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

import pytest
from biip import ParseError
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gtin import Gtin
from hypothesis import given
from hypothesis import strategies as st

from core.schemes import SchemeError
from core.schemes.gs1 import (
    CSET82,
    DigitalLinkKey,
    GS1Key,
    build_digital_link,
    gs1_check_digit,
    gs1_company_prefix_matches,
    gs1_prefix_usage,
    is_china_prefix,
    known_company_prefix,
    parse_digital_link_path,
    parse_gs1_key,
    validate_company_prefix,
    validate_giai,
    validate_gln,
    validate_grai,
    validate_gtin,
    validate_sscc,
)

digit_strings = st.text(alphabet="0123456789", min_size=1, max_size=20)
cset82_values = st.text(alphabet=sorted(CSET82), min_size=1, max_size=20)


def reference_check_digit(digits: str) -> int:
    """Independent restatement of GS1 General Specifications 7.9.1."""
    total = 0
    for position, ch in enumerate(reversed(digits)):
        total += int(ch) * (3 if position % 2 == 0 else 1)
    return (10 - total % 10) % 10


def with_check(body: str) -> str:
    return body + str(reference_check_digit(body))


def error_of(func: Callable[..., object], *args: object) -> SchemeError:
    with pytest.raises(SchemeError) as info:
        func(*args)
    return info.value


# --- check digits ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("digits", "expected"),
    [
        ("950600013435", 2),  # GTIN 9506000134352 from the GS1 Digital Link standard
        ("9501234", 6),  # GTIN-8 95012346
        ("61414112345", 2),  # UPC-A 614141123452
        ("10614141123456789", 7),  # SSCC 106141411234567897
        ("952132100001", 8),  # GLN 9521321000018
        ("690123456789", 2),  # a GS1 China GTIN-13
        ("0", 0),
    ],
)
def test_check_digit_known_values(digits: str, expected: int) -> None:
    assert gs1_check_digit(digits) == expected


@pytest.mark.parametrize("digits", ["", "12a4", "12 4", "١٢٣", "１２３"])
def test_check_digit_refuses_non_ascii_digits(digits: str) -> None:
    with pytest.raises(SchemeError):
        gs1_check_digit(digits)


@given(digit_strings)
def test_check_digit_matches_reference(digits: str) -> None:
    assert gs1_check_digit(digits) == reference_check_digit(digits)


# --- GTIN -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_value", "normalised"),
    [
        ("09506000134352", "09506000134352"),
        ("9506000134352", "09506000134352"),
        ("614141123452", "00614141123452"),
        ("95012346", "00000095012346"),
        ("6901234567892", "06901234567892"),
        ("10614141123459", "10614141123459"),
    ],
)
def test_gtin_is_normalised_to_14_digits(given_value: str, normalised: str) -> None:
    assert validate_gtin(given_value) == normalised


def test_gtin_wrong_check_digit_says_which() -> None:
    err = error_of(validate_gtin, "09506000134353")
    assert err.message == "GTIN check digit should be 2, got 3"
    assert err.code == "check_digit"
    assert str(err) == err.message
    assert isinstance(err, ValueError)


@pytest.mark.parametrize("length", [0, 1, 7, 9, 10, 11, 15, 18])
def test_gtin_length(length: int) -> None:
    err = error_of(validate_gtin, "1" * length)
    assert err.message == f"GTIN must be 8, 12, 13 or 14 digits, got {length}"
    assert err.code == "length"


@pytest.mark.parametrize(
    "value", ["0950600013435A", " 9506000134352", "９５０６０００１３４３５２"]
)
def test_gtin_charset(value: str) -> None:
    err = error_of(validate_gtin, value)
    assert err.code == "charset"


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_any_gtin13_with_computed_check_digit_validates(body: str) -> None:
    gtin = with_check(body)
    assert validate_gtin(gtin) == "0" + gtin
    assert Gtin.parse(gtin).value == gtin  # biip agrees


@given(
    st.text(alphabet="0123456789", min_size=12, max_size=12),
    st.integers(min_value=0, max_value=12),
    st.integers(min_value=1, max_value=9),
)
def test_changing_one_digit_breaks_the_gtin(body: str, position: int, delta: int) -> None:
    gtin = with_check(body)
    changed = gtin[:position] + str((int(gtin[position]) + delta) % 10) + gtin[position + 1 :]
    with pytest.raises(SchemeError) as info:
        validate_gtin(changed)
    assert info.value.code == "check_digit"


# --- SSCC, GLN, GRAI, GIAI ------------------------------------------------------


def test_sscc() -> None:
    assert validate_sscc("106141411234567897") == "106141411234567897"
    assert validate_sscc("106141412345678908") == "106141412345678908"
    assert error_of(validate_sscc, "106141411234567898").message == (
        "SSCC check digit should be 7, got 8"
    )
    assert error_of(validate_sscc, "10614141123456789").message == "SSCC must be 18 digits, got 17"


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_any_sscc_with_computed_check_digit_validates(body: str) -> None:
    assert validate_sscc(with_check(body)) == with_check(body)


def test_gln() -> None:
    assert validate_gln("9521321000018") == "9521321000018"
    assert validate_gln("6901234000016") == "6901234000016"
    assert error_of(validate_gln, "9521321000010").message == "GLN check digit should be 8, got 0"
    assert error_of(validate_gln, "952132100001").code == "length"
    party = error_of(parse_gs1_key, "417", "9521321000010")
    assert party.message == "party GLN check digit should be 8, got 0"


@pytest.mark.parametrize(
    "value",
    ["09506000134352", "09506000134352SERIAL-0001/A", "09506000134352" + "1234567890ABCDEF"],
)
def test_grai_valid(value: str) -> None:
    assert validate_grai(value) == value


@pytest.mark.parametrize(
    ("value", "code", "fragment"),
    [
        ("19506000134352", "syntax", "filler digit 0, got '1'"),
        ("09506000134353", "check_digit", "GRAI check digit should be 2, got 3"),
        ("0950600013435", "length", "14 to 30"),
        ("09506000134352" + "S" * 17, "length", "14 to 30"),
        ("09506000134352AB CD", "charset", "character set 82"),
        ("0950600013435X", "charset", "digits only"),
    ],
)
def test_grai_invalid(value: str, code: str, fragment: str) -> None:
    err = error_of(validate_grai, value)
    assert err.code == code
    assert fragment in err.message


@pytest.mark.parametrize("value", ["9506000ASSET-1", "6901234", "1234", "6901234" + "x" * 23])
def test_giai_valid(value: str) -> None:
    assert validate_giai(value) == value


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "length"),
        ("123", "length"),
        ("12A4ASSET", "charset"),
        ("6901234ASSET 1", "charset"),
        ("6901234" + "x" * 24, "length"),
        ("6901234资产", "charset"),
    ],
)
def test_giai_invalid(value: str, code: str) -> None:
    assert error_of(validate_giai, value).code == code


def test_parse_gs1_key_dispatches_and_refuses_others() -> None:
    assert parse_gs1_key("01", "9506000134352") == GS1Key("01", "09506000134352")
    assert parse_gs1_key("00", "106141411234567897").kind == "SSCC"
    assert error_of(parse_gs1_key, "253", "1234").code == "unknown_ai"


# --- company prefixes and namespaces --------------------------------------------


@pytest.mark.parametrize("prefix", ["6901", "6901234", "069012345678", "0614141"])
def test_company_prefix_valid(prefix: str) -> None:
    assert validate_company_prefix(prefix) == prefix


@pytest.mark.parametrize(
    ("prefix", "code"),
    [("690", "length"), ("6901234567890", "length"), ("69O1234", "charset"), ("", "length")],
)
def test_company_prefix_invalid(prefix: str, code: str) -> None:
    err = error_of(validate_company_prefix, prefix)
    assert err.code == code
    if code == "length":
        assert "4 to 12 digits" in err.message


@pytest.mark.parametrize(
    ("digits", "china"),
    [("6901234", True), ("6991", True), ("6951234", True), ("6891234", False),
     ("4712345", False), ("0614141", False), ("69", False), ("69A1", False)],
)  # fmt: skip
def test_is_china_prefix(digits: str, china: bool) -> None:
    assert is_china_prefix(digits) is china


def test_prefix_usage_and_known_company_prefix_come_from_biip() -> None:
    assert gs1_prefix_usage("6901234567892") == "GS1 China"
    assert gs1_prefix_usage("0614141") == "GS1 US"
    assert gs1_prefix_usage("") is None
    assert gs1_prefix_usage("abc") is None
    assert known_company_prefix(parse_gs1_key("01", "6901234567892")) == "6901234"
    assert known_company_prefix(parse_digital_link_path("/01/614141123452")) == "0614141"
    assert known_company_prefix(parse_gs1_key("8004", "6901234ASSET")) == "6901234"
    assert known_company_prefix(parse_gs1_key("8004", "2001234ASSET")) is None  # RCN range


@pytest.mark.parametrize(
    ("ai", "value", "prefix", "matches"),
    [
        ("01", "6901234567892", "6901234", True),
        ("01", "16901234567899", "6901234", True),  # indicator digit is skipped
        ("01", "6901234567892", "6901235", False),
        ("01", "614141123452", "0614141", True),  # U.P.C. prefix gains its leading 0
        ("01", "95012346", "9501", False),  # GTIN-8 is not built from a company prefix
        ("00", "106141411234567897", "0614141", True),
        ("00", "106141411234567897", "1061414", False),  # extension digit is skipped
        ("414", "9521321000018", "9521321", True),
        ("417", "9521321000018", "952132", True),
        ("8003", "09506000134352ABC", "9506000", True),
        ("8004", "9506000ASSET", "9506000", True),
        ("8004", "9506000", "9506000", False),  # nothing after the prefix
        ("8004", "9506001ASSET", "9506000", False),
    ],
)
def test_company_prefix_matches(ai: str, value: str, prefix: str, matches: bool) -> None:
    assert gs1_company_prefix_matches(parse_gs1_key(ai, value), prefix) is matches


def test_company_prefix_matches_digital_link_and_validates_prefix() -> None:
    key = parse_digital_link_path("/01/6901234567892/10/LOT1")
    assert gs1_company_prefix_matches(key, "6901234")
    assert not gs1_company_prefix_matches(key, "6909999")
    assert error_of(gs1_company_prefix_matches, key, "69").code == "length"


# --- Digital Link paths ---------------------------------------------------------


def test_walk_up_from_serial_to_gtin() -> None:
    key = parse_digital_link_path("/01/09506000134352/10/L/21/S")
    assert key == DigitalLinkKey("01", "09506000134352", (("10", "L"), ("21", "S")))
    assert key.walk_up_paths() == [
        "/01/09506000134352/10/L/21/S",
        "/01/09506000134352/10/L",
        "/01/09506000134352",
    ]


def test_full_gtin_chain_and_normalisation() -> None:
    key = parse_digital_link_path("/01/9506000134352/22/V1/10/L%2F1/21/S%2B1")
    assert key.primary_value == "09506000134352"
    assert key.qualifiers == (("22", "V1"), ("10", "L/1"), ("21", "S+1"))
    assert key.canonical_path() == "/01/09506000134352/22/V1/10/L%2F1/21/S%2B1"
    assert str(key) == key.canonical_path()
    assert len(key.walk_up_paths()) == 4
    assert key.walk_up_paths()[-1] == "/01/09506000134352"


@pytest.mark.parametrize(
    "path",
    ["/01/09506000134352/10/A!B", "/01/09506000134352/10/A%21B", "/01/9506000134352/10/A!B/"],
)
def test_equivalent_spellings_share_one_canonical_path(path: str) -> None:
    assert parse_digital_link_path(path).canonical_path() == "/01/09506000134352/10/A%21B"


def test_lower_case_percent_escapes_are_decoded() -> None:
    assert parse_digital_link_path("/01/09506000134352/10/A%2fB").qualifiers == (("10", "A/B"),)


def test_percent_decoding_of_values() -> None:
    key = parse_digital_link_path("/01/09506000134352/10/AB%2FC%25D")
    assert key.qualifiers == (("10", "AB/C%D"),)
    assert key.canonical_path() == "/01/09506000134352/10/AB%2FC%25D"


@pytest.mark.parametrize(
    ("path", "canonical"),
    [
        ("/00/106141411234567897", "/00/106141411234567897"),
        ("/414/9521321000018", "/414/9521321000018"),
        ("/414/9521321000018/254/32a%2Fb", "/414/9521321000018/254/32a%2Fb"),
        ("/414/9521321000018/7040/1AB-", "/414/9521321000018/7040/1AB-"),
        ("/417/9521321000018", "/417/9521321000018"),
        ("/8003/09506000134352ABC", "/8003/09506000134352ABC"),
        ("/8004/9506000ASSET%2F1", "/8004/9506000ASSET%2F1"),
        ("/01/614141123452/235/TPX1", "/01/00614141123452/235/TPX1"),
        ("/01/09506000134352/", "/01/09506000134352"),
    ],
)
def test_other_keys_parse(path: str, canonical: str) -> None:
    assert parse_digital_link_path(path).canonical_path() == canonical


@pytest.mark.parametrize(
    ("path", "code", "message"),
    [
        ("/01/09506000134353", "check_digit", "GTIN check digit should be 2, got 3"),
        ("/01/09506000134", "length", "GTIN must be 8, 12, 13 or 14 digits, got 11"),
        ("/01/09506000134352/21/S/10/L", "qualifier_order",
         "AI 10 must come before AI 21; the path order is 01/22/10/21"),
        ("/01/09506000134352/10/A/10/B", "qualifier_order", "AI 10 appears twice"),
        ("/01/09506000134352/254/X", "qualifier_not_allowed",
         "AI 254 is not a qualifier of GTIN (AI 01); allowed: 22, 10, 21, 235"),
        ("/01/09506000134352/22/V/235/T", "qualifier_not_allowed",
         "AI 235 cannot be combined with AI 22 under AI 01"),
        ("/00/106141411234567897/10/L", "qualifier_not_allowed", "allowed: none"),
        ("/01/09506000134352/414/9521321000018", "qualifier_not_allowed", ""),
        ("/01/09506000134352/10/" + "L" * 21, "length", "lot (AI 10) is at most 20"),
        ("/01/09506000134352/10/A%20B", "charset", "' ' at position 2"),
        ("/01/09506000134352/10/AB#x", "syntax", "fragment"),
        ("/01/09506000134352/10/A%23B", "charset", "'#' at position 2"),
        ("/01/09506000134352/10/%E6%89%B9", "charset", "character set 82"),
        ("/01/09506000134352/10/%ZZ", "syntax", "malformed percent-escape"),
        ("/01/09506000134352/10/%FF", "charset", "invalid UTF-8"),
        ("/01/09506000134352/10/", "syntax", ""),
        ("/01/09506000134352/10//21/S", "syntax", "empty value"),
        ("/gtin/09506000134352", "unknown_ai", "use the numeric AI 01"),
        ("/99999/1", "unknown_ai", "not a GS1 Application Identifier"),
        ("/abc/1", "unknown_ai", "not a GS1 Application Identifier"),
        ("/10/LOT", "syntax", "must start with a primary key"),
        ("/17/260101", "syntax", "cannot start a Digital Link path"),
        ("/253/9521321000018", "unsupported_key", "does not serve"),
        ("/products/01/09506000134352", "unknown_ai", ""),
        ("01/09506000134352", "syntax", "must start with '/'"),
        ("/", "syntax", "empty"),
        ("", "syntax", ""),
        ("/01", "syntax", "has no value"),
        ("/01/09506000134352?linkType=all", "syntax", "query string"),
        ("/414/9521321000018/7040/1AB!", "charset", "importer index"),
        ("/414/9521321000018/7040/AAB-", "charset", "digits only"),
        ("/414/9521321000018/7040/1A", "length", "4 characters"),
        ("/8003/19506000134352", "syntax", "filler digit"),
        ("/01/" + "1" * 2000, "length", "at most 1024"),
    ],
)  # fmt: skip
def test_digital_link_errors(path: str, code: str, message: str) -> None:
    err = error_of(parse_digital_link_path, path)
    assert err.code == code, err.message
    assert message in err.message


def test_build_digital_link_matches_parse() -> None:
    built = build_digital_link("01", "9506000134352", (("10", "A/B"), ("21", "7")))
    assert built == parse_digital_link_path("/01/09506000134352/10/A%2FB/21/7")


@given(
    lot=st.one_of(st.none(), cset82_values),
    serial=st.one_of(st.none(), cset82_values),
    cpv=st.one_of(st.none(), cset82_values),
)
def test_round_trip_and_biip_agree(lot: str | None, serial: str | None, cpv: str | None) -> None:
    qualifiers = tuple((ai, v) for ai, v in (("22", cpv), ("10", lot), ("21", serial)) if v)
    key = build_digital_link("01", "09506000134352", qualifiers)
    path = key.canonical_path()
    assert parse_digital_link_path(path) == key
    walk = key.walk_up_paths()
    assert walk[0] == path and walk[-1] == "/01/09506000134352"
    assert len(walk) == len(qualifiers) + 1
    assert all(longer.startswith(shorter + "/") for longer, shorter in pairwise(walk))
    try:
        parsed = GS1DigitalLinkURI.parse("https://id.gs1.org" + path)
    except ParseError:  # pragma: no cover - would mean biip disagrees with the AI table
        pytest.fail(f"biip refused {path}")
    assert [(es.ai.ai, es.value) for es in parsed.element_strings] == [
        ("01", "09506000134352"),
        *qualifiers,
    ]


def test_biip_digital_link_parser_only_notes_a_bad_check_digit() -> None:
    """Why the path grammar is ours: biip accepts this URI and only records the error."""
    parsed = GS1DigitalLinkURI.parse("https://id.gs1.org/01/09506000134353")
    element = parsed.element_strings[0]
    assert element.gtin is None
    assert element.gtin_error
    assert error_of(parse_digital_link_path, "/01/09506000134353").code == "check_digit"
