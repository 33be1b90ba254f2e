"""hypothesis on the parsers that read outside input: each either answers or raises its
module's documented error (nothing else), and round-trips where a round trip exists.

The wire codec has its own, larger property suite (tests/resolver/wire/test_codec_fuzz.py).
Examples are few and deadlines off: this runs in every suite, on a shared machine.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import IdnestError, InvalidHandle
from core.identifiers import check_new_handle, dot_segment, parse_handle
from core.schemes import SchemeError
from core.schemes.ecode import validate_ecode
from core.schemes.gs1 import build_digital_link, parse_digital_link_path, parse_gs1_key
from core.schemes.oid import validate_oid
from core.schemes.vaa import validate_vaa
from core.values import parse_values

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
# Text that looks like the inputs: separators and digits are common, not only noise.
hostile = st.text(
    alphabet=st.sampled_from([*list("0123456789./%2eE\\:-_ aAzZ"), "\x00", "ä", "标"])
    | st.characters(),
    max_size=80,
)

valid_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)  # no lone surrogates


@FUZZ
@given(hostile)
def test_handles_parse_or_name_the_problem(text: str) -> None:
    try:
        handle = parse_handle(text)
    except InvalidHandle:
        return
    if not text.upper().startswith("0.NA/"):
        assert handle.text == text  # the split loses nothing
        assert parse_handle(handle.text) == handle
    try:
        check_new_handle(handle)
    except InvalidHandle as exc:
        assert dot_segment(handle.suffix) is not None and "path segment" in exc.detail
    else:
        assert dot_segment(handle.suffix) is None


@FUZZ
@given(st.lists(st.sampled_from(["..", ".", "a", "%2e", "%2E.", "b.c", ""]), min_size=1,
                max_size=5), st.sampled_from(["/", "\\"]))  # fmt: skip
def test_every_dot_segment_is_found(parts: list[str], sep: str) -> None:
    suffix = sep.join(parts)
    dotted = any(p.lower() in {".", "..", "%2e", "%2e.", ".%2e", "%2e%2e"} for p in parts)
    assert (dot_segment(suffix) is not None) == dotted


@FUZZ
@given(hostile, hostile)
def test_scheme_validators_answer_or_raise_scheme_error(a: str, b: str) -> None:
    with contextlib.suppress(SchemeError):
        assert validate_oid(validate_oid(a)) == validate_oid(a)  # canonical is a fixed point
    for check in (validate_ecode, validate_vaa):
        with contextlib.suppress(SchemeError):
            check(a)
    for ai in ("01", "00", "414", "8003", "8004", a[:4]):
        with contextlib.suppress(SchemeError):
            parse_gs1_key(ai, b)


digital_link_paths = st.lists(
    st.tuples(st.sampled_from(["01", "10", "21", "22", "00", "414", "254", "gtin", "x"]), hostile),
    min_size=1,
    max_size=4,
).map(lambda parts: "".join(f"/{ai}/{v}" for ai, v in parts))


@FUZZ
@given(digital_link_paths | hostile)
def test_digital_link_paths_parse_or_raise_and_round_trip(path: str) -> None:
    try:
        key = parse_digital_link_path(path)
    except SchemeError:
        return
    again = parse_digital_link_path(key.canonical_path())
    assert again == key
    assert build_digital_link(key.primary_ai, key.primary_value, key.qualifiers) == key


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | hostile,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile, inner, max_size=4),
    max_leaves=12,
)
value_like = st.fixed_dictionaries(
    {"index": st.integers(-5, 70000) | hostile, "type": hostile | st.just("URL"),
     "data": json_like | st.just({"format": "string", "value": "x"})},
    optional={"ttl": json_like, "permissions": hostile, "references": json_like},
)  # fmt: skip


@FUZZ
@given(json_like | st.lists(value_like, max_size=4) | value_like)
def test_value_bodies_parse_or_raise_an_idnest_error(raw: Any) -> None:
    try:
        values = parse_values(raw, timestamp="2026-01-01T00:00:00Z")
    except IdnestError as exc:
        assert exc.http_status == 400
        return
    assert len({v.index for v in values}) == len(values)


@pytest.fixture
def upload(tmp_path: Path) -> Path:
    return tmp_path / "upload"


@FUZZ
@given(st.binary(max_size=300) | valid_text.map(str.encode), st.sampled_from(["csv", "ndjson"]))
def test_bulk_uploads_give_rows_or_name_the_problem(upload: Path, data: bytes, fmt: str) -> None:
    import csv

    from tenants.identifiers.services.bulk_rows import count_rows, iter_rows

    upload.write_bytes(data)
    try:  # what bulk.submit runs first, and answers 400 for (naming the file)
        total = count_rows(upload, fmt)
    except (IdnestError, UnicodeDecodeError, csv.Error):
        return
    try:  # an upload that was counted is read row by row; a bad row carries its error
        rows = list(iter_rows(upload, fmt))
    except IdnestError:
        assert fmt == "csv"  # a header naming no TYPE or INDEX:TYPE
        return
    assert total == len(rows)
    assert [r.number for r in rows] == list(range(1, len(rows) + 1))
    assert all(isinstance(r.handle, str) for r in rows)


@FUZZ
@given(st.lists(st.fixed_dictionaries({"handle": valid_text, "values": st.lists(
    st.fixed_dictionaries({"index": st.integers(0, 9999), "type": valid_text, "data": valid_text}),
    max_size=2)}), max_size=4))  # fmt: skip
def test_ndjson_rows_round_trip(upload: Path, docs: list[dict[str, Any]]) -> None:
    from tenants.identifiers.services.bulk_rows import iter_rows

    upload.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    rows = list(iter_rows(upload, "ndjson"))
    assert [(r.handle, r.body) for r in rows] == [(d["handle"], d["values"]) for d in docs]


@FUZZ
@given(st.binary(max_size=200))
def test_xlsx_that_is_no_workbook_is_refused(upload: Path, data: bytes) -> None:
    from tenants.identifiers.services.bulk_rows import xlsx_to_csv

    upload.write_bytes(data)
    with pytest.raises(IdnestError):
        xlsx_to_csv(upload, upload.with_suffix(".csv"))


@FUZZ
@given(st.dictionaries(st.sampled_from(["rows", "index_0", "type_0", "data_0", "ttl_0",
                       "public_0", "index_1", "type_1", "data_1"]), hostile))  # fmt: skip
def test_console_form_rows_are_bounded_and_parsed(form: dict[str, str]) -> None:
    from portal.web.console import _form_values

    try:
        body, shown = _form_values(form)
    except IdnestError as exc:
        assert exc.field == "rows"
        return
    rows = (form.get("rows") or "").strip()
    assert len(body) <= len(shown) == (int(rows) if rows else 0)
    with contextlib.suppress(IdnestError):
        parse_values(body, timestamp="2026-01-01T00:00:00Z")
