"""RouteRequest.arg: query values as numbers, refused with a short 400 when they are not."""

from __future__ import annotations

import pytest

from modelport.errors import InvalidRequestError
from modelport.routes.request import RouteRequest


def request(**query: str) -> RouteRequest:
    return RouteRequest("GET", "/r", "http://x/r", query=query)


def test_whole_numbers() -> None:
    assert request(n=" 42 ").arg("n", type=int) == 42
    assert request(n="-7").arg("n", type=int) == -7


@pytest.mark.parametrize("text", ["9" * 5000, "4.5", "ten", "", "\u00b2"])
def test_what_is_no_int64_is_a_short_400(text: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        request(n=text).arg("n", type=int)
    assert caught.value.message.startswith("parameter 'n' must be a whole number, got ")
    assert len(caught.value.message) < 200


def test_a_huge_value_is_quoted_short() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        request(x="y" * 9_000_000).arg("x", type=float)
    assert caught.value.message.endswith("… (9,000,000 characters)")
