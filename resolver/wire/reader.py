"""Bounds-checked reading of Handle wire bytes, and the errors of the wire codec.

Every decoder in ``resolver.wire`` reads through :class:`Reader`. It promises that a
length or count read from the wire is checked against the bytes that are actually left
*before* anything is sliced or allocated, so a message that claims a 2**31-byte field
costs nothing, and that every failure surfaces as :class:`ProtocolError` — never
``struct.error``, ``IndexError`` or ``UnicodeDecodeError``.
"""

from __future__ import annotations

import struct
from typing import Final

MAX_MESSAGE_LENGTH: Final = 262144
"""RFC 3652: the largest message (header + body + credential) a peer may send."""

RC_PROTOCOL_ERROR: Final = 4

U8: Final = struct.Struct(">B")
U16: Final = struct.Struct(">H")
U32: Final = struct.Struct(">I")
I32: Final = struct.Struct(">i")


class ProtocolError(Exception):
    """Malformed, truncated, oversized or inconsistent wire input.

    ``rc`` is the Handle response code a server should answer with (4 PROTOCOL_ERROR
    unless the problem is more specific, e.g. 5 OPERATION_NOT_SUPPORTED).
    """

    def __init__(self, message: str, *, rc: int = RC_PROTOCOL_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.rc = rc


class EncodeError(ValueError):
    """A value cannot be put on the wire (e.g. a malformed stored site description).

    Only encoders raise it, and the message names the field. Values that passed
    ``core.values.parse_value`` encode without it, except for site data, which that
    parser stores as given.
    """


class Reader:
    """A cursor over ``buf[pos:end]`` whose every read is checked against ``end``."""

    __slots__ = ("buf", "end", "pos")

    def __init__(self, buf: bytes, pos: int = 0, end: int | None = None) -> None:
        self.buf = buf
        self.pos = pos
        self.end = len(buf) if end is None else end

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def _need(self, n: int, what: str) -> None:
        left = self.end - self.pos
        if n > left:
            raise ProtocolError(f"truncated {what}: needs {n} bytes, {left} left")

    def u8(self, what: str = "byte") -> int:
        self._need(1, what)
        b = self.buf[self.pos]
        self.pos += 1
        return b

    def u16(self, what: str = "integer") -> int:
        self._need(2, what)
        (v,) = U16.unpack_from(self.buf, self.pos)
        self.pos += 2
        return int(v)

    def u32(self, what: str = "integer") -> int:
        self._need(4, what)
        (v,) = U32.unpack_from(self.buf, self.pos)
        self.pos += 4
        return int(v)

    def i32(self, what: str = "integer") -> int:
        self._need(4, what)
        (v,) = I32.unpack_from(self.buf, self.pos)
        self.pos += 4
        return int(v)

    def take(self, n: int, what: str) -> bytes:
        self._need(n, what)
        start = self.pos
        self.pos = start + n
        return self.buf[start : self.pos]

    def blob(self, what: str, limit: int = MAX_MESSAGE_LENGTH) -> bytes:
        """A 4-byte length followed by that many bytes."""
        n = self.u32(f"{what} length")
        if n > limit:
            raise ProtocolError(f"{what} is {n} bytes; the limit is {limit}")
        return self.take(n, what)

    def text(
        self, what: str, limit: int = MAX_MESSAGE_LENGTH, *, rc: int = RC_PROTOCOL_ERROR
    ) -> str:
        """A length-prefixed UTF-8 string; invalid UTF-8 is a ProtocolError with ``rc``."""
        raw = self.blob(what, limit)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError(f"{what} is not valid UTF-8", rc=rc) from None

    def count(self, what: str, min_size: int, limit: int = MAX_MESSAGE_LENGTH) -> int:
        """A 4-byte element count, refused unless ``count * min_size`` bytes are left."""
        n = self.u32(f"{what} count")
        if n > limit:
            raise ProtocolError(f"{n} {what} entries; the limit is {limit}")
        if n * min_size > self.end - self.pos:
            raise ProtocolError(
                f"{what} count {n} cannot fit in the {self.end - self.pos} bytes left"
            )
        return n

    def int_list(self, what: str, limit: int = MAX_MESSAGE_LENGTH) -> tuple[int, ...]:
        """A count followed by that many signed 4-byte integers."""
        n = self.count(what, 4, limit)
        start = self.pos
        self.pos = start + 4 * n
        return struct.unpack_from(f">{n}i", self.buf, start) if n else ()

    def blob_list(
        self, what: str, limit: int = MAX_MESSAGE_LENGTH, max_items: int = MAX_MESSAGE_LENGTH
    ) -> tuple[bytes, ...]:
        """A count followed by that many length-prefixed byte strings."""
        n = self.count(what, 4, max_items)
        return tuple(self.blob(what, limit) for _ in range(n))

    def finish(self, what: str) -> None:
        if self.pos != self.end:
            raise ProtocolError(f"{self.end - self.pos} unexpected bytes after the {what}")
