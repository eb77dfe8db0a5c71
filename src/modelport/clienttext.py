"""Whole numbers written by a client (a header, a version in a URL, a query parameter).

Python's ``int()`` refuses text of more than 4,300 digits with a ValueError (the guard
against quadratic parsing, CVE-2020-10735), which would escape as a 500; so the digits
are counted first, and only ASCII digits count (``int()`` also reads "١٢", and
``str.isdigit()`` says yes to "²", which ``int()`` refuses).
"""

from __future__ import annotations

from modelport.errors import InvalidRequestError, shown

__all__ = ["INT64_MAX", "bounded_int", "decimal"]

#: The largest number modelport takes from a client: V2 tensor sizes and the database's
#: version numbers are 64-bit.
INT64_MAX = 2**63 - 1
_MAX_DIGITS = len(str(INT64_MAX))


def decimal(text: str | bytes, *, signed: bool = False) -> int | None:
    """``text`` as a number when it is 1 to 19 ASCII digits and nothing else (after one
    leading '-' when ``signed``), else None."""
    digits = text[1:] if signed and text[:1] in ("-", b"-") else text
    if not 0 < len(digits) <= _MAX_DIGITS or not (digits.isascii() and digits.isdigit()):
        return None
    return int(text)


def bounded_int(
    text: str | bytes, what: str, low: int = 0, high: int = INT64_MAX, meaning: str = ""
) -> int:
    """``text`` (spaces around it allowed) as a whole number from ``low`` to ``high``; else
    an InvalidRequestError naming ``what``, ``meaning`` (said in brackets) and the text."""
    number = decimal(text.strip())
    if number is None or not low <= number <= high:
        said = f" ({meaning})" if meaning else ""
        given = text.decode("latin-1") if isinstance(text, bytes) else text
        raise InvalidRequestError(
            f"{what} must be a whole number between {low} and {high}{said}, got {shown(given)}"
        )
    return number
