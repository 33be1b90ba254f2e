"""Handle-style identifiers (标识): ``{prefix}/{suffix}``.

The prefix is the naming authority (``88.100.7``); the suffix is any UTF-8 text without
control characters. The whole identifier is at most 2048 bytes. A new suffix may not
have a ``.`` or ``..`` path segment (``check_new_handle``): a browser would fold
``88.100.11/../88.100.12/PUB`` to another tenant's record while the wire answers this
one. Look-up is
case-insensitive for ASCII only, as the Handle.net server does by default, so the
stored ``handle_key`` folds ASCII letters and leaves everything else alone.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

from core.errors import InvalidHandle

MAX_HANDLE_BYTES = 2048
# C0, DEL and C1 controls are never part of a handle.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_PREFIX_SEGMENT = re.compile(r"^[0-9A-Za-z_\-]+$")
# What a browser (WHATWG URL) treats as a dot segment: ``.``/``..``, with any dot written
# ``%2e``; ``\`` separates segments there like ``/``.
_SEGMENT_SPLIT = re.compile(r"[/\\]")
_DOT_SEGMENTS = frozenset({".", "..", "%2e", ".%2e", "%2e.", "%2e%2e"})


def fold(text: str) -> str:
    """ASCII-only case folding: ``Pump`` and ``PUMP`` match, ``Ä`` and ``ä`` do not."""
    if text.isascii():
        return text.lower()
    return "".join(c.lower() if c.isascii() else c for c in text)


class Handle(NamedTuple):
    """A parsed handle. A NamedTuple rather than a frozen dataclass: bulk loads build a
    million of them, and a frozen dataclass is several times slower to construct."""

    prefix: str
    suffix: str

    @property
    def text(self) -> str:
        return f"{self.prefix}/{self.suffix}"

    @property
    def key(self) -> str:
        return fold(self.text)

    def __str__(self) -> str:
        return self.text


# Pure, and a handful of prefixes make up almost every call; an invalid one raises,
# which is not cached.
@functools.lru_cache(maxsize=4096)
def validate_prefix(prefix: str) -> str:
    if not prefix:
        raise InvalidHandle("the prefix is empty", field="handle")
    if prefix.upper().startswith("0.NA/"):
        return prefix
    segments = prefix.split(".")
    for seg in segments:
        if not seg:
            raise InvalidHandle(f"prefix {prefix!r} has an empty segment", field="handle")
        if not _PREFIX_SEGMENT.match(seg):
            raise InvalidHandle(
                f"prefix {prefix!r} may contain only letters, digits, '-', '_' and dots",
                field="handle",
            )
    return prefix


def parse_handle(text: str, *, allow_empty_suffix: bool = False) -> Handle:
    """Split and validate a handle. Raises InvalidHandle naming the problem."""
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidHandle("the identifier is not valid UTF-8", field="handle") from None
    if size > MAX_HANDLE_BYTES:
        raise InvalidHandle(
            f"the identifier is {size} bytes; the limit is {MAX_HANDLE_BYTES}",
            field="handle",
        )
    if _CONTROL.search(text):
        raise InvalidHandle("the identifier contains a control character", field="handle")
    if text.upper().startswith("0.NA/"):
        # Prefix handles: the "suffix" is itself a prefix, e.g. 0.NA/88.100.7
        prefix, suffix = text[:4], text[5:]
    else:
        prefix, sep, suffix = text.partition("/")
        if not sep:
            raise InvalidHandle(
                f"{text!r} is not a handle: expected prefix/suffix, e.g. 88.100.7/PUMP-1",
                field="handle",
            )
    validate_prefix(prefix)
    if not suffix and not allow_empty_suffix:
        raise InvalidHandle(f"handle {text!r} has an empty suffix", field="handle")
    return Handle(prefix, suffix)


def dot_segment(suffix: str) -> str | None:
    """The first ``.`` or ``..`` path segment of a suffix (as a browser reads it), or None."""
    if "." not in suffix and "%" not in suffix:
        return None
    for seg in _SEGMENT_SPLIT.split(suffix):
        if seg.lower() in _DOT_SEGMENTS:
            return seg
    return None


def check_new_handle(handle: Handle) -> Handle:
    """Refuse a handle to be written whose suffix has a dot segment (``a/../b``, ``./x``).

    Reads and deletes still take such names, so one registered before the rule can be
    found (``idnest check names``) and removed."""
    seg = dot_segment(handle.suffix)
    if seg is not None:
        raise InvalidHandle(
            f"handle {handle.text!r} has a {seg!r} path segment in its suffix; a browser "
            "would resolve the link to a different handle, so '.' and '..' segments "
            "(also written %2e, or separated by '\\') are not allowed",
            field="handle",
        )
    return handle


def is_under(prefix: str, parent: str) -> bool:
    """True when ``prefix`` equals ``parent`` or is a derived prefix of it (88.100.7 ⊂ 88.100)."""
    p, q = fold(prefix), fold(parent)
    return p == q or p.startswith(q + ".")
