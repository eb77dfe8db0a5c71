"""Whole numbers from client text: digits counted before int(), ASCII only, bounded."""

from __future__ import annotations

import pytest

from modelport.clienttext import INT64_MAX, bounded_int, decimal
from modelport.errors import InvalidRequestError


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("0", 0),
        ("42", 42),
        (b"42", 42),
        ("007", 7),
        (str(INT64_MAX), INT64_MAX),
        ("9" * 19, 10**19 - 1),
    ],
)
def test_decimal_reads_up_to_19_ascii_digits(text: str | bytes, number: int) -> None:
    assert decimal(text) == number


@pytest.mark.parametrize(
    "text",
    [
        "",
        "9" * 20,
        "9" * 5000,
        b"9" * 5000,
        "-1",
        "+1",
        "1.0",
        " 1",
        "1_000",
        "\u0661\u0662",
        "\u00b2",
        "0x10",
    ],
)
def test_decimal_refuses_anything_else(text: str | bytes) -> None:
    assert decimal(text) is None


def test_bounded_int_takes_surrounding_spaces() -> None:
    assert bounded_int(" 12 ", "limit", 1, 100) == 12


@pytest.mark.parametrize("text", ["0", "101", "ten", "9" * 5000, str(INT64_MAX + 1)])
def test_bounded_int_names_the_field_the_bounds_and_a_short_text(text: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        bounded_int(text, "limit", 1, 100, "rows per page")
    message = caught.value.message
    assert message.startswith("limit must be a whole number between 1 and 100 (rows per page)")
    assert len(message) < 200


def test_bounded_int_is_int64_by_default() -> None:
    assert bounded_int(str(INT64_MAX), "version") == INT64_MAX
    with pytest.raises(InvalidRequestError, match="between 0 and 9223372036854775807"):
        bounded_int(str(INT64_MAX + 1), "version")


@pytest.mark.parametrize(
    ("text", "number"), [("-5", -5), ("5", 5), ("-" + "9" * 19, -(10**19 - 1))]
)
def test_a_signed_decimal_takes_one_minus(text: str, number: int) -> None:
    assert decimal(text, signed=True) == number


@pytest.mark.parametrize("text", ["-", "--5", "+5", "-" + "9" * 20, "5-"])
def test_a_signed_decimal_refuses_anything_else(text: str) -> None:
    assert decimal(text, signed=True) is None
