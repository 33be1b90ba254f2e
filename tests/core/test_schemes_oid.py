"""Dotted-numeric OIDs (core.schemes.oid)."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.schemes import SchemeError
from core.schemes.oid import MAX_ARCS, oid_arcs, oid_child, oid_is_under, validate_oid

UUID_OID = f"2.25.{uuid.UUID('f81d4fae-7dec-11d0-a765-00a0c91e6bf6').int}"


@pytest.mark.parametrize(
    "oid",
    [
        "1.2.156",  # China's national arc under ISO member bodies
        "1.2.156.10197.1.401",
        "2.16.156",
        "0.0",
        "0.39",
        "1.39.7",
        "2.999",  # no bound on the second arc under 2
        "2.999.0.1",
        "2",
        UUID_OID,
        "1." + ".".join(["0"] * (MAX_ARCS - 1)),
    ],
)
def test_valid_oids(oid: str) -> None:
    assert validate_oid(oid) == oid


@pytest.mark.parametrize(
    ("oid", "code", "fragment"),
    [
        ("", "length", "empty"),
        ("1..2", "syntax", "arc 2 is empty"),
        (".1.2", "syntax", "arc 1 is empty"),
        ("1.2.", "syntax", "arc 3 is empty"),
        ("3.1", "range", "first arc must be 0, 1 or 2, got 3"),
        ("10.1", "range", "first arc must be 0, 1 or 2, got 10"),
        ("1.40", "range", "second arc must be at most 39 under 1, got 40"),
        ("0.40", "range", "at most 39"),
        ("1.100", "range", "at most 39"),
        ("01.2", "leading_zero", "arc 1 must not have a leading zero"),
        ("1.02.3", "leading_zero", "'02'"),
        ("1.2.00", "leading_zero", ""),
        ("1.a.3", "charset", "arc 2 must be a non-negative integer, got 'a'"),
        ("1.-2", "charset", "non-negative"),
        ("1.+2", "charset", ""),
        (" 1.2", "charset", ""),
        ("1.2 ", "charset", ""),
        ("1,2", "charset", ""),
        ("１.２", "charset", ""),  # full-width digits
        ("1.٣", "charset", ""),  # Arabic-Indic digit
        ("urn:oid:1.2.3", "charset", ""),
        ("1." + ".".join(["1"] * MAX_ARCS), "length", f"at most {MAX_ARCS} arcs"),
        ("2.25." + "1" * 1100, "length", "at most 1024 characters"),
    ],
)
def test_invalid_oids(oid: str, code: str, fragment: str) -> None:
    with pytest.raises(SchemeError) as info:
        validate_oid(oid)
    assert info.value.code == code
    assert fragment in info.value.message


@pytest.mark.parametrize(
    ("oid", "arc", "under"),
    [
        ("1.2.156.7.1", "1.2.156", True),
        ("1.2.156.7", "1.2.156.7", False),
        ("1.2.1560.1", "1.2.156", False),  # arcs compare whole, not as text
        ("1.2.15", "1.2.156", False),
        ("1.2.156", "1.2.156.7", False),
        ("2.25.1", "2", True),
        ("1.3.6.1", "1.2", False),
    ],
)
def test_oid_is_under(oid: str, arc: str, under: bool) -> None:
    assert oid_is_under(oid, arc) is under


def test_oid_is_under_or_equal() -> None:
    assert oid_is_under("1.2.156", "1.2.156", or_equal=True)
    assert oid_is_under("1.2.156.1", "1.2.156", or_equal=True)
    assert not oid_is_under("1.2.157", "1.2.156", or_equal=True)


@pytest.mark.parametrize(("oid", "arc"), [("1.2.x", "1.2"), ("1.2.3", "1.02"), ("4.1", "4")])
def test_oid_is_under_refuses_invalid_input(oid: str, arc: str) -> None:
    with pytest.raises(SchemeError):
        oid_is_under(oid, arc)


def test_oid_arcs_and_child() -> None:
    assert oid_arcs("1.2.156.10197") == (1, 2, 156, 10197)
    assert oid_child("1.2.156.3000", 42) == "1.2.156.3000.42"
    assert oid_child("2", 40) == "2.40"
    with pytest.raises(SchemeError) as info:
        oid_child("1", 40)
    assert info.value.code == "range"
    with pytest.raises(SchemeError):
        oid_child("1.2", -1)
    with pytest.raises(SchemeError):
        oid_child("1.02", 1)


arcs_below_root = st.lists(st.integers(min_value=0, max_value=10**40), min_size=0, max_size=20)


@given(st.sampled_from([0, 1, 2]), st.integers(min_value=0, max_value=39), arcs_below_root)
def test_generated_oids_validate_and_nest(first: int, second: int, rest: list[int]) -> None:
    arcs = [first, second, *rest]
    oid = ".".join(map(str, arcs))
    assert validate_oid(oid) == oid
    assert oid_arcs(oid) == tuple(arcs)
    parent = ".".join(map(str, arcs[:-1]))
    assert oid_is_under(oid, parent)
    assert not oid_is_under(parent, oid)
    child = oid_child(oid, rest[0] if rest else 7)
    assert oid_is_under(child, oid) and oid_is_under(child, parent)


@given(st.from_regex(r"[0-2](\.(0|[1-9][0-9]{0,5})){1,6}", fullmatch=True))
def test_regex_shaped_oids_only_fail_on_second_arc_range(oid: str) -> None:
    first, second = oid.split(".")[:2]
    if first in ("0", "1") and int(second) > 39:
        with pytest.raises(SchemeError):
            validate_oid(oid)
    else:
        assert validate_oid(oid) == oid
