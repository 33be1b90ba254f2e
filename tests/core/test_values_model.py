"""The value model: tolerant input, canonical output, clear errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import InvalidHandle, InvalidValue
from core.identifiers import fold, is_under, parse_handle
from core.values import (
    DEFAULT_TTL,
    default_admin_value,
    dump_values,
    filter_values,
    load_values,
    parse_value,
    parse_values,
    type_matches,
    value_to_json,
)

TS = "2026-11-24T00:00:00Z"


def test_body_shapes_are_all_accepted():
    one = {"index": 1, "type": "URL", "data": "https://e.example"}
    for body in ({"values": [one]}, [one], one):
        (v,) = parse_values(body, timestamp=TS)
        assert v.data.format == "string" and v.data.value == "https://e.example"
        assert v.timestamp == TS and v.ttl == 86400 and v.permissions == "1110"


def test_json_output_omits_default_permissions_and_always_has_timestamp():
    (a, b) = parse_values(
        [
            {"index": 1, "type": "URL", "data": "x"},
            {"index": 2, "type": "X", "data": "y", "permissions": "1100"},
        ],
        timestamp=TS,
    )
    assert "permissions" not in value_to_json(a) and value_to_json(a)["timestamp"] == TS
    assert value_to_json(b)["permissions"] == "1100"


def test_permissions_object_form():
    (v,) = parse_values(
        [{"index": 1, "type": "X", "data": "y", "permissions": {"publicRead": False}}], timestamp=TS
    )
    assert v.permissions == "1100" and not v.public_read


def test_secret_keys_can_never_be_public():
    (v,) = parse_values(
        [{"index": 300, "type": "HS_SECKEY", "data": "pw", "permissions": "1111"}], timestamp=TS
    )
    assert v.permissions == "1100"


def test_storage_round_trip():
    values = parse_values(
        [
            {"index": 1, "type": "URL", "data": "x"},
            {"index": 2, "type": "B", "data": {"format": "base64", "value": "AAEC"}},
            {"index": 3, "type": "H", "data": {"format": "hex", "value": "00ff"}},
            {
                "index": 4,
                "type": "HS_VLIST",
                "data": {"format": "vlist", "value": [{"handle": "a/b", "index": "3"}]},
            },
            {"index": 5, "type": "R", "data": "x", "references": [{"handle": "c/d", "index": 1}]},
        ],
        timestamp=TS,
    )
    assert load_values(dump_values(values)) == values
    assert values[3].data.value == [{"handle": "a/b", "index": 3}]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"index": 0, "type": "URL", "data": "x"}, "between 1 and"),
        ({"index": True, "type": "URL", "data": "x"}, "integer"),
        ({"index": 1, "type": "URL", "data": 5}, "data must be a string"),
        ({"index": 1, "type": "URL", "data": {"format": "hex", "value": "zz"}}, "hexadecimal"),
        ({"index": 1, "type": "URL", "data": "x", "ttl": -1}, "ttl"),
        ({"index": 1, "type": "x" * 2000, "data": "x"}, "type is longer"),
        ({"index": 1, "type": "URL", "data": "x" * 70000}, "the limit is"),
        ({"index": 1, "type": "S", "data": {"format": "site", "value": "nope"}}, "site data"),
    ],
)
def test_bad_values_name_the_problem(raw, message):
    with pytest.raises(InvalidValue) as exc:
        parse_values([raw], timestamp=TS)
    assert message in exc.value.detail


def test_default_admin_takes_a_free_index():
    assert default_admin_value("88.100.1", TS).index == 100
    assert default_admin_value("88.100.1", TS, taken={100, 101}).index == 102


def test_type_filter_and_permissions():
    values = parse_values(
        [
            {"index": 1, "type": "URL", "data": "x"},
            {"index": 2, "type": "10320/loc", "data": "y", "permissions": "1100"},
        ],
        timestamp=TS,
    )
    assert [v.index for v in filter_values(values)] == [1]
    assert [v.index for v in filter_values(values, public_only=False, types=("10320/LOC",))] == [2]
    assert type_matches("10320/loc.x", "10320/loc.") and not type_matches(
        "10320/locx", "10320/loc."
    )


def test_handles():
    h = parse_handle("88.100.7/Pump/A-1")
    assert (h.prefix, h.suffix, h.key) == ("88.100.7", "Pump/A-1", "88.100.7/pump/a-1")
    assert parse_handle("0.NA/88.100.7").prefix == "0.NA"
    for bad in ("nosuffix", "88.100.7/", "88..7/x", "88.100.7/a\x00b", "8 8/x"):
        with pytest.raises(InvalidHandle):
            parse_handle(bad)
    assert is_under("88.100.7", "88.100") and is_under("88.100", "88.100")
    assert not is_under("88.1000", "88.100")


@given(st.text(min_size=1, max_size=50))
def test_fold_only_touches_ascii(text):
    folded = fold(text)
    assert len(folded) == len(text)
    for a, b in zip(text, folded, strict=True):
        assert b == (a.lower() if a.isascii() else a)


_plain_values = st.fixed_dictionaries(
    {
        "index": st.one_of(
            st.integers(min_value=-5, max_value=2**31 + 5), st.text(max_size=4), st.booleans()
        ),
        "type": st.one_of(
            st.sampled_from(["URL", "EMAIL", "HS_SECKEY", "", "型号"]),
            st.text(max_size=8),
            st.just("x" * 1025),
            st.integers(),
        ),
        "data": st.one_of(
            st.text(max_size=16),
            st.just("a\ud800b"),
            st.just("x" * 65537),
            st.just("数" * 21846),  # 65,538 bytes in UTF-8
            st.integers(),
            st.none(),
        ),
    }
)


@settings(max_examples=300, deadline=None)
@given(_plain_values)
def test_fast_path_for_plain_values_agrees_with_the_general_parser(raw) -> None:
    """{index, type, data} takes a shortcut; adding "ttl" (the default) forces the general
    parser. Both must accept the same values, build the same value, refuse the same."""

    def outcome(body):
        try:
            return parse_value(body, timestamp="2026-11-24T00:00:00Z")
        except InvalidValue as exc:
            return ("refused", exc.detail)

    assert outcome(raw) == outcome({**raw, "ttl": DEFAULT_TTL})


def test_an_index_in_unicode_digits_is_refused_by_name():
    # "²".isdigit() is True but int("²") fails: the parser must say which field is wrong.
    with pytest.raises(InvalidValue, match="index"):
        parse_values(
            [{"index": "\u00b2", "type": "URL", "data": "https://example.com"}], timestamp=TS
        )
