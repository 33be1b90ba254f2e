"""Numbers a request carries are bounded before use (core/limits.py): the export
download's Range header, whatever its digits, is a range, the whole file, or 416."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tenants.ownership.api import byte_range


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(st.sampled_from("0123456789-=bytes ,"), max_size=60)
       | st.integers(0, 6000).map(lambda n: f"bytes={'9' * n}-"),
       st.integers(0, 10**6))  # fmt: skip
def test_range_headers_never_raise(header: str, size: int) -> None:
    got = byte_range(header, size)
    if isinstance(got, tuple):
        first, last = got
        assert 0 <= first <= last < size


def test_a_five_thousand_digit_range_is_not_a_500() -> None:
    assert byte_range(f"bytes={'9' * 5000}-", 100) is None  # ignored: the whole file
    assert byte_range(f"bytes=-{'9' * 5000}", 100) is None
