"""A structural check of UBJSON files, before XGBoost reads them.

XGBoost's UBJSON reader trusts the lengths in the file: some truncated ``.ubj`` files
crash the whole process (a segmentation fault) instead of raising. Walking the
structure here first, without building any values, turns a damaged file into a clear
error for that one model.
"""

from __future__ import annotations

__all__ = ["UBJSONError", "check_ubjson"]

#: Marker -> bytes of its payload, for the fixed-size types.
_FIXED = {
    b"i": 1,
    b"U": 1,
    b"I": 2,
    b"l": 4,
    b"L": 8,
    b"d": 4,
    b"D": 8,
    b"C": 1,
    b"T": 0,
    b"F": 0,
    b"Z": 0,
    b"N": 0,
}
_INTEGERS = (b"i", b"U", b"I", b"l", b"L")
#: Deeper than any real model; bounds the recursion on a hostile file.
_MAX_DEPTH = 64


class UBJSONError(ValueError):
    """The file is not complete, well-formed UBJSON."""


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise UBJSONError(
                f"the file ends early (needs byte {self.pos + size} of {len(self.data)})"
            )
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def marker(self) -> bytes:
        return self.take(1)

    def length(self, marker: bytes | None = None) -> int:
        marker = marker or self.marker()
        if marker not in _INTEGERS:
            raise UBJSONError(f"expected a length at byte {self.pos - 1}, got {marker!r}")
        value = int.from_bytes(self.take(_FIXED[marker]), "big", signed=marker != b"U")
        if value < 0:
            raise UBJSONError(f"negative length at byte {self.pos}")
        return value

    def value(self, marker: bytes, depth: int) -> None:
        if marker in _FIXED:
            self.take(_FIXED[marker])
        elif marker in (b"S", b"H"):
            self.take(self.length())
        elif marker in (b"[", b"{"):
            if depth > _MAX_DEPTH:
                raise UBJSONError("containers nested too deeply")
            self.container(keyed=marker == b"{", depth=depth + 1)
        else:
            raise UBJSONError(f"unknown marker {marker!r} at byte {self.pos - 1}")

    def container(self, keyed: bool, depth: int) -> None:
        end = b"}" if keyed else b"]"
        typed: bytes | None = None
        marker = self.marker()
        if marker == b"$":
            typed = self.marker()
            marker = self.marker()
            if marker != b"#":
                raise UBJSONError(f"typed container without a count at byte {self.pos - 1}")
        if marker == b"#":
            count = self.length()
            if typed in _FIXED and not keyed:
                self.take(count * _FIXED[typed])  # one bounds check for a whole array
                return
            for _ in range(count):
                if keyed:
                    self.take(self.length())
                self.value(typed or self.marker(), depth)
            return
        while marker != end:
            if keyed:
                self.take(self.length(marker))
                marker = self.marker()
            self.value(marker, depth)
            marker = self.marker()


def check_ubjson(data: bytes) -> None:
    """Raise :class:`UBJSONError` unless ``data`` is exactly one complete UBJSON value."""
    reader = _Reader(data)
    reader.value(reader.marker(), 0)
    if reader.pos != len(data):
        raise UBJSONError(f"{len(data) - reader.pos} unexpected byte(s) after the model")
