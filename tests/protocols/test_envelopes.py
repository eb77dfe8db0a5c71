"""The native/MLflow envelope decoder: which payload, and when NumPy may infer types."""

from __future__ import annotations

import orjson
import pytest

from modelport.errors import InvalidRequestError
from modelport.payloads import Records, Rows
from modelport.protocols.envelopes import decode_predict_body


def test_rows_without_true_or_false_may_skip_the_per_value_checks() -> None:
    payload, parameters = decode_predict_body(b'{"instances": [[5.1, 3.5, 1.4, 0.2]]}')
    assert payload == Rows(
        [[5.1, 3.5, 1.4, 0.2]],
        no_booleans=True,
        numbers_only=True,
        text=b"[[5.1, 3.5, 1.4, 0.2]]",
    )
    assert parameters == {}


@pytest.mark.parametrize(
    "body",
    [
        b'{"instances": [[5.1, "3.5", 1.4, 0.2]]}',
        b'{"instances": [[5.1, null, 1.4, 0.2]]}',
        b'{"instances": [[5.1, {"a": 1}, 1.4, 0.2]]}',
        b'{"instances": [[5.1, 3.5, 1.4, 0.2]], "parameters": {}}',
        b'{"inputs": [[5.1, 3.5, 1.4, 0.2]], "parameters": null}',
    ],
)
def test_anything_but_numbers_keeps_numpy_inference_at_most(body: bytes) -> None:
    payload, _ = decode_predict_body(body)
    assert isinstance(payload, Rows)
    assert (payload.numbers_only, payload.no_booleans) == (False, True)
    assert payload.text is None  # the log encodes such rows itself


@pytest.mark.parametrize(
    "body",
    [b'{"inputs":[[1e3,-2E-1]]}', b'{\n  "instances" : [ [ 1 , 2 ] ,\r\n\t[3,4] ]\n}'],
)
def test_numbers_in_any_spacing_are_numbers_only(body: bytes) -> None:
    payload, _ = decode_predict_body(body)
    assert isinstance(payload, Rows) and payload.numbers_only
    # The rows' own text, as sent: the JSON of exactly the decoded rows.
    assert payload.text is not None and payload.text in body
    assert orjson.loads(payload.text) == payload.rows
    assert payload.text[:1] == b"[" and payload.text[-1:] == b"]"


@pytest.mark.parametrize(
    "body",
    [
        b'{"instances": [[true, 3.5, 1.4, 0.2]]}',
        b'{"instances": [[5.1, 3.5, 1.4, false]]}',
        # A flag elsewhere in the body costs the shortcut too: correct, just slower.
        b'{"instances": [[5.1, 3.5, 1.4, 0.2]], "parameters": {"probabilities": true}}',
    ],
)
def test_any_true_or_false_keeps_every_value_checked(body: bytes) -> None:
    payload, _ = decode_predict_body(body)
    assert isinstance(payload, Rows) and payload.no_booleans is False


def test_records_are_records() -> None:
    payload, _ = decode_predict_body(b'{"instances": [{"a": 1}]}')
    assert payload == Records([{"a": 1}])


@pytest.mark.parametrize("body", [b"", b"[]", b'{"instances": 1, "inputs": 2}', b"{"])
def test_bad_envelopes_are_400(body: bytes) -> None:
    with pytest.raises(InvalidRequestError):
        decode_predict_body(body)
