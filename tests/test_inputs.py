"""inputs.to_batch and count_rows: every payload shape, and every way a payload can be wrong."""

from __future__ import annotations

import contextlib
import json
import math
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelport.errors import InvalidInputError, InvalidRequestError
from modelport.inputs import to_batch
from modelport.payloads import Columns, Payload, Records, Rows, Split, count_rows
from modelport.protocols.envelopes import decode_predict_body
from modelport.signature import Feature, ModelHints, Signature, build_signature

NAMES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
REVERSED = NAMES[::-1]
ROW_A = [5.1, 3.5, 1.4, 0.2]
ROW_B = [6, 2.9, 4.3, 1]  # ints must become floats too
EXPECTED = np.array([[5.1, 3.5, 1.4, 0.2], [6.0, 2.9, 4.3, 1.0]])

#: Fitted on a NumPy array, names declared in model.yaml (like the iris examples).
NAMED = build_signature(ModelHints(n_features=4), [Feature(name) for name in NAMES])
#: Fitted on a DataFrame: the model wants one back.
FRAME = build_signature(ModelHints(feature_names=tuple(NAMES), n_features=4))
#: Only the feature count is known.
COUNT_ONLY = build_signature(ModelHints(n_features=4))
#: Nothing is known about the inputs.
UNKNOWN = build_signature(ModelHints())
ALLOW_MISSING = build_signature(
    ModelHints(n_features=4), [Feature(name) for name in NAMES], allow_missing=True
)
MIXED = build_signature(
    ModelHints(),
    [Feature("color", "str"), Feature("size"), Feature("count", "int"), Feature("flag", "bool")],
)
MIXED_MISSING = build_signature(
    ModelHints(), [Feature("color", "str"), Feature("size")], allow_missing=True
)
BOOL_SIZE = build_signature(ModelHints(), [Feature("flag", "bool"), Feature("size")])


def record(values: list[Any], names: list[str] = NAMES) -> dict[str, Any]:
    return dict(zip(names, values, strict=True))


def loose(value: Any) -> Any:
    """Let a test hand a payload any JSON value, whatever its declared type."""
    return value


# Every shape carrying ROW_A and ROW_B; dict orders deliberately differ from NAMES.
GOOD_PAYLOADS = [
    pytest.param(Rows([ROW_A, ROW_B]), id="rows"),
    pytest.param(
        Records([record(ROW_A[::-1], REVERSED), record(ROW_B[::-1], REVERSED)]), id="records"
    ),
    pytest.param(
        Columns({name: [ROW_A[j], ROW_B[j]] for j, name in reversed(list(enumerate(NAMES)))}),
        id="columns",
    ),
    pytest.param(Split(list(NAMES), [ROW_A, ROW_B]), id="split-same-order"),
    pytest.param(Split(REVERSED, [ROW_A[::-1], ROW_B[::-1]]), id="split-reordered"),
]


# -- good payloads -----------------------------------------------------------------------


@pytest.mark.parametrize("payload", GOOD_PAYLOADS)
def test_every_shape_gives_float64_array_in_signature_order(payload: Payload) -> None:
    batch = to_batch(payload, NAMED)
    assert isinstance(batch, np.ndarray)
    assert batch.dtype == np.float64
    np.testing.assert_array_equal(batch, EXPECTED)


@pytest.mark.parametrize("payload", GOOD_PAYLOADS)
def test_every_shape_gives_dataframe_when_signature_wants_frame(payload: Payload) -> None:
    batch = to_batch(payload, FRAME)
    assert isinstance(batch, pd.DataFrame)
    assert list(batch.columns) == NAMES
    assert all(dtype == np.float64 for dtype in batch.dtypes)
    np.testing.assert_array_equal(batch.to_numpy(), EXPECTED)


def test_split_reordering_keeps_each_value_with_its_feature() -> None:
    split = Split(["petal_width", "sepal_length", "petal_length", "sepal_width"], [[4, 1, 3, 2]])
    batch = to_batch(split, FRAME)
    assert isinstance(batch, pd.DataFrame)
    assert batch.loc[0].to_dict() == {
        "sepal_length": 1.0,
        "sepal_width": 2.0,
        "petal_length": 3.0,
        "petal_width": 4.0,
    }


@pytest.mark.parametrize("signature", [COUNT_ONLY, UNKNOWN], ids=["count-only", "unknown"])
def test_rows_need_no_feature_names(signature: Signature) -> None:
    batch = to_batch(Rows([ROW_A, ROW_B]), signature)
    assert isinstance(batch, np.ndarray)
    np.testing.assert_array_equal(batch, EXPECTED)


def test_any_consistent_width_is_accepted_when_nothing_is_known() -> None:
    batch = to_batch(Rows([[1, 2, 3], [4, 5, 6]]), UNKNOWN)
    assert isinstance(batch, np.ndarray)
    assert batch.shape == (2, 3)


def test_slow_path_gives_same_floats_as_fast_path() -> None:
    # A null routes the rows through value-by-value checking; the other values must match.
    batch = to_batch(Rows([ROW_A, [6, 2.9, None, 1]]), ALLOW_MISSING)
    assert isinstance(batch, np.ndarray)
    assert batch.dtype == np.float64
    np.testing.assert_array_equal(batch[0], EXPECTED[0])
    assert batch[1, 0] == 6.0
    assert batch[1, 3] == 1.0


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(Rows([ROW_A, [6.2, None, 4.3, None]]), id="rows"),
        pytest.param(Records([record(ROW_A), record([6.2, None, 4.3, None])]), id="records"),
        pytest.param(
            Columns(
                {
                    "sepal_length": [5.1, 6.2],
                    "sepal_width": [3.5, None],
                    "petal_length": [1.4, 4.3],
                    "petal_width": [0.2, None],
                }
            ),
            id="columns",
        ),
        pytest.param(Split(REVERSED, [ROW_A[::-1], [None, 4.3, None, 6.2]]), id="split"),
    ],
)
def test_null_becomes_nan_when_missing_values_are_allowed(payload: Payload) -> None:
    batch = to_batch(payload, ALLOW_MISSING)
    assert isinstance(batch, np.ndarray)
    np.testing.assert_array_equal(batch[0], ROW_A)
    assert batch[1, 0] == 6.2
    assert math.isnan(batch[1, 1])
    assert batch[1, 2] == 4.3
    assert math.isnan(batch[1, 3])


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(Rows([["red", 1.5, 2, True], ["blue", 3, 4, 0]]), id="rows"),
        pytest.param(
            Records(
                [
                    {"flag": True, "count": 2, "size": 1.5, "color": "red"},
                    {"color": "blue", "size": 3, "count": 4, "flag": 0},
                ]
            ),
            id="records",
        ),
        pytest.param(
            Columns(
                {"color": ["red", "blue"], "size": [1.5, 3], "count": [2, 4], "flag": [True, 0]}
            ),
            id="columns",
        ),
        pytest.param(
            Split(["size", "flag", "color", "count"], [[1.5, True, "red", 2], [3, 0, "blue", 4]]),
            id="split",
        ),
    ],
)
def test_string_features_give_dataframe_with_text_and_float_columns(payload: Payload) -> None:
    batch = to_batch(payload, MIXED)
    assert isinstance(batch, pd.DataFrame)
    assert list(batch.columns) == ["color", "size", "count", "flag"]
    # object on pandas 2, the "str" dtype on pandas 3: either way a column of text.
    assert pd.api.types.is_string_dtype(batch["color"])
    assert not pd.api.types.is_numeric_dtype(batch["color"])
    assert batch["color"].tolist() == ["red", "blue"]
    for name in ("size", "count", "flag"):
        assert batch[name].dtype == np.float64
    assert batch["size"].tolist() == [1.5, 3.0]
    assert batch["count"].tolist() == [2.0, 4.0]
    assert batch["flag"].tolist() == [1.0, 0.0]


def test_null_in_string_and_number_features_when_missing_values_are_allowed() -> None:
    batch = to_batch(Rows([["red", None], [None, 2]]), MIXED_MISSING)
    assert isinstance(batch, pd.DataFrame)
    assert batch.loc[0, "color"] == "red"
    assert pd.isna(batch.loc[1, "color"])
    assert math.isnan(batch.loc[0, "size"])
    assert batch.loc[1, "size"] == 2.0


@pytest.mark.parametrize(("value", "expected"), [(True, 1.0), (False, 0.0), (1, 1.0), (0, 0.0)])
@pytest.mark.parametrize("shape", ["rows", "records"])
def test_bool_feature_takes_true_false_one_and_zero(
    value: Any, expected: float, shape: str
) -> None:
    payload = Rows([[value, 1.5]]) if shape == "rows" else Records([{"flag": value, "size": 1.5}])
    batch = to_batch(payload, BOOL_SIZE)
    assert isinstance(batch, np.ndarray)
    np.testing.assert_array_equal(batch, [[expected, 1.5]])


# -- bad payloads ------------------------------------------------------------------------

BAD_PAYLOADS = [
    # rows
    pytest.param(
        Rows([ROW_A, [1, 2, 3]]),
        NAMED,
        "row 1 has 3 values but the model takes 4 features",
        id="rows-too-short",
    ),
    pytest.param(
        Rows([ROW_A, ROW_B, [1, 2, 3, 4, 5]]),
        COUNT_ONLY,
        "row 2 has 5 values but the model takes 4 features",
        id="rows-too-long",
    ),
    pytest.param(
        Rows([ROW_A, [5.1, "3.5", 1.4, 0.2]]),
        NAMED,
        "row 1, feature 'sepal_width': expected a number, got string '3.5'",
        id="rows-string-for-number",
    ),
    pytest.param(
        Rows([ROW_A, [5.1, "3.5", 1.4, 0.2]]),
        COUNT_ONLY,
        "row 1, column 1: expected a number, got string '3.5'",
        id="rows-string-for-number-unnamed",
    ),
    pytest.param(
        Rows([[5.1, 3.5, 1.4, True]]),
        NAMED,
        "row 0, feature 'petal_width': expected a number, got true",
        id="rows-bool-for-number",
    ),
    pytest.param(
        Rows([ROW_A, [5.1, 3.5, None, 0.2]]),
        NAMED,
        "row 1, feature 'petal_length': missing value (null) is not allowed for this model",
        id="rows-null",
    ),
    pytest.param(
        Rows([ROW_A, [5.1, 3.5, 1.4, {"v": 1}]]),
        NAMED,
        "row 1, feature 'petal_width': expected a number, got an object",
        id="rows-object-for-number",
    ),
    pytest.param(
        Rows([ROW_A, [5.1, math.inf, 1.4, 0.2]]),
        NAMED,
        "row 1, feature 'sepal_width': value is not a finite number",
        id="rows-infinity",
    ),
    pytest.param(
        Rows([[math.nan, 3.5, 1.4, "x"]]),
        NAMED,
        "row 0, feature 'sepal_length': nan is not a finite number",
        id="rows-nan-slow-path",
    ),
    pytest.param(Rows([]), NAMED, "instances is empty: send at least one row", id="rows-empty"),
    pytest.param(
        Rows(loose({"sepal_length": 5.1})),
        NAMED,
        "instances must be a list of rows, got an object",
        id="rows-not-a-list",
    ),
    pytest.param(
        Rows([ROW_A, {"sepal_length": 5.1}]),
        NAMED,
        "row 1: expected a list of values, got an object",
        id="rows-object-row",
    ),
    pytest.param(
        Rows([ROW_A, "5.1,3.5,1.4,0.2"]),
        NAMED,
        "row 1: expected a list of values, got string '5.1,3.5,1.4,0.2'",
        id="rows-string-row",
    ),
    pytest.param(
        Rows([5.1, 3.5, 1.4, 0.2]),
        NAMED,
        "row 0: expected a list of values, got float (wrap a single row in another list: [[...]])",
        id="rows-flat-list",
    ),
    pytest.param(
        Rows([1, 2, 3, 4]),
        UNKNOWN,
        "row 0: expected a list of values, got int (wrap a single row in another list: [[...]])",
        id="rows-flat-list-unknown-width",
    ),
    pytest.param(
        Rows([[1, 2], [1, 2, 3]]),
        UNKNOWN,
        "rows must all have the same number of values",
        id="rows-ragged-unknown-width",
    ),
    # records
    pytest.param(
        Records([record(ROW_A), {**record(ROW_A), "sepal_width": "wide"}]),
        NAMED,
        "row 1, feature 'sepal_width': expected a number, got string 'wide'",
        id="records-string-for-number",
    ),
    pytest.param(
        Records([{**record(ROW_A), "petal_width": False}]),
        NAMED,
        "row 0, feature 'petal_width': expected a number, got false",
        id="records-bool-for-number",
    ),
    pytest.param(
        Records([{**record(ROW_A), "sepal_length": None}]),
        NAMED,
        "row 0, feature 'sepal_length': missing value (null) is not allowed",
        id="records-null",
    ),
    pytest.param(
        Records([record(ROW_A), record(ROW_A[:3], NAMES[:3])]),
        NAMED,
        f"row 1: missing feature(s) ['petal_width']; the model takes {NAMES}",
        id="records-missing-key",
    ),
    pytest.param(
        Records([{**record(ROW_A), "color": "red"}]),
        NAMED,
        f"row 0: unknown feature(s) ['color']; the model takes {NAMES}",
        id="records-unknown-key",
    ),
    pytest.param(
        Records([{**record(ROW_A[:3], NAMES[:3]), "petal_with": 0.2}]),
        NAMED,
        "row 0: missing feature(s) ['petal_width']; unknown feature(s) ['petal_with']",
        id="records-misspelt-key",
    ),
    pytest.param(
        Records([record(ROW_A), ROW_B]),
        NAMED,
        "row 1: expected an object keyed by feature name, got a list",
        id="records-list-row",
    ),
    pytest.param(Records([]), NAMED, "records is empty: send at least one row", id="records-empty"),
    pytest.param(
        Records(loose(record(ROW_A))),
        NAMED,
        "records must be a list of rows, got an object",
        id="records-single-object",
    ),
    # columns
    pytest.param(
        Columns({**{n: [1.0, 2.0] for n in NAMES}, "petal_length": [1.0, "long"]}),
        NAMED,
        "row 1, feature 'petal_length': expected a number, got string 'long'",
        id="columns-string-for-number",
    ),
    pytest.param(
        Columns({**{n: [1.0, 2.0] for n in NAMES}, "sepal_width": [None, 2.0]}),
        NAMED,
        "row 0, feature 'sepal_width': missing value (null) is not allowed",
        id="columns-null",
    ),
    pytest.param(
        Columns({n: [1.0] for n in NAMES[:3]}),
        NAMED,
        f"inputs: missing feature(s) ['petal_width']; the model takes {NAMES}",
        id="columns-missing-key",
    ),
    pytest.param(
        Columns({**{n: [1.0] for n in NAMES}, "color": ["red"]}),
        NAMED,
        "inputs: unknown feature(s) ['color']",
        id="columns-unknown-key",
    ),
    pytest.param(
        Columns({**{n: [1.0, 2.0] for n in NAMES}, "petal_width": [1.0]}),
        NAMED,
        "inputs columns have different lengths: {'sepal_length': 2, 'sepal_width': 2, "
        "'petal_length': 2, 'petal_width': 1}",
        id="columns-different-lengths",
    ),
    pytest.param(
        Columns({**{n: [1.0] for n in NAMES}, "sepal_width": 3.5}),
        NAMED,
        "inputs['sepal_width'] must be a list, got float",
        id="columns-scalar-value",
    ),
    pytest.param(
        Columns({n: [] for n in NAMES}),
        NAMED,
        "inputs columns are empty: send at least one row",
        id="columns-empty-lists",
    ),
    pytest.param(
        Columns({}),
        NAMED,
        "inputs must be an object mapping each feature name to a list of values",
        id="columns-empty-object",
    ),
    pytest.param(
        Columns(loose([ROW_A])),
        NAMED,
        "inputs must be an object mapping each feature name to a list of values",
        id="columns-not-an-object",
    ),
    # split
    pytest.param(
        Split(list(NAMES), [ROW_A, [5.1, 3.5, "x", 0.2]]),
        NAMED,
        "row 1, feature 'petal_length': expected a number, got string 'x'",
        id="split-string-for-number",
    ),
    pytest.param(
        Split(REVERSED, [ROW_A[::-1], ["x", 1.4, 3.5, 5.1]]),
        NAMED,
        "row 1, feature 'petal_width': expected a number, got string 'x'",
        id="split-reordered-names-right-feature",
    ),
    pytest.param(
        Split(REVERSED, [[0.2, 1.4, 3.5, None]]),
        NAMED,
        "row 0, feature 'sepal_length': missing value (null) is not allowed",
        id="split-reordered-null",
    ),
    pytest.param(
        Split(list(NAMES), [ROW_A, [1, 2, 3]]),
        NAMED,
        "row 1 has 3 values but the model takes 4 features",
        id="split-short-row",
    ),
    pytest.param(
        Split(REVERSED, [ROW_A, "x"]),
        NAMED,
        "dataframe_split.data row 1: expected a list of 4 values, got string 'x'",
        id="split-reordered-string-row",
    ),
    pytest.param(
        Split([*NAMES, "sepal_width"], [[*ROW_A, 3.5]]),
        NAMED,
        "dataframe_split.columns repeats a name: "
        "['sepal_length', 'sepal_width', 'petal_length', 'petal_width', 'sepal_width']",
        id="split-duplicate-columns",
    ),
    pytest.param(
        Split(NAMES[:3], [ROW_A[:3]]),
        NAMED,
        f"dataframe_split.columns: missing feature(s) ['petal_width']; the model takes {NAMES}",
        id="split-missing-column",
    ),
    pytest.param(
        Split([*NAMES, "color"], [[*ROW_A, "red"]]),
        NAMED,
        "dataframe_split.columns: unknown feature(s) ['color']",
        id="split-unknown-column",
    ),
    pytest.param(
        Split([0, 1, 2, 3], [ROW_A]),
        NAMED,
        "dataframe_split.columns must be a list of feature names",
        id="split-non-string-columns",
    ),
    pytest.param(
        Split(list(NAMES), []),
        NAMED,
        "dataframe_split.data is empty: send at least one row",
        id="split-empty-data",
    ),
    # typed features
    pytest.param(
        Rows([["red", 1.5, 2, 2]]),
        MIXED,
        "row 0, feature 'flag': expected true or false, got int",
        id="bool-feature-two",
    ),
    pytest.param(
        Rows([["red", 1.5, 2, "yes"]]),
        MIXED,
        "row 0, feature 'flag': expected true or false, got string 'yes'",
        id="bool-feature-string",
    ),
    pytest.param(
        Records([{"color": 7, "size": 1.5, "count": 2, "flag": True}]),
        MIXED,
        "row 0, feature 'color': expected a string, got int",
        id="str-feature-number",
    ),
    pytest.param(
        Rows([["red", 1.5, 2, True], ["blue", "big", 2, True]]),
        MIXED,
        "row 1, feature 'size': expected a number, got string 'big'",
        id="mixed-string-for-number",
    ),
    pytest.param(
        Rows([["red", None]]),
        build_signature(ModelHints(), [Feature("color", "str"), Feature("size")]),
        "row 0, feature 'size': missing value (null) is not allowed",
        id="mixed-null",
    ),
]


@pytest.mark.parametrize(("payload", "signature", "message"), BAD_PAYLOADS)
def test_bad_payload_is_rejected_with_a_precise_message(
    payload: Payload, signature: Signature, message: str
) -> None:
    with pytest.raises(InvalidRequestError, match=re.escape(message)) as caught:
        to_batch(payload, signature)
    assert caught.value.status_code == _status_of(message)


def _status_of(message: str) -> int:
    """A key's value of the wrong kind is a 400; what is wrong inside the rows, a 422."""
    return 400 if " must be a" in message and not message.startswith("row ") else 422


def _without_booleans(rows: list[Any]) -> bool:
    return not any(type(v) is bool for row in rows if isinstance(row, list) for v in row)


#: The bad row payloads again, as a decoder that saw no true/false in the JSON marks them.
BAD_ROWS_WITHOUT_BOOLEANS = [
    pytest.param(Rows(p.values[0].rows, no_booleans=True), *p.values[1:], id=f"{p.id}-numpy")
    for p in BAD_PAYLOADS
    if isinstance(p.values[0], Rows) and _without_booleans(p.values[0].rows)
]


def _numbers_and_lists(value: Any) -> bool:
    if isinstance(value, list):
        return all(_numbers_and_lists(v) for v in value)
    return type(value) in (int, float)


#: ... and as a decoder that saw only numbers and brackets marks them.
BAD_ROWS_OF_NUMBERS_ONLY = [
    pytest.param(
        Rows(p.values[0].rows, no_booleans=True, numbers_only=True),
        *p.values[1:],
        id=f"{p.id}-numbers-only",
    )
    for p in BAD_PAYLOADS
    if isinstance(p.values[0], Rows) and _numbers_and_lists(p.values[0].rows)
]


@pytest.mark.parametrize(
    ("payload", "signature", "message"), BAD_ROWS_WITHOUT_BOOLEANS + BAD_ROWS_OF_NUMBERS_ONLY
)
def test_numpy_inference_path_rejects_the_same_rows_the_same_way(
    payload: Payload, signature: Signature, message: str
) -> None:
    with pytest.raises(InvalidRequestError, match=re.escape(message)) as caught:
        to_batch(payload, signature)
    assert caught.value.status_code == _status_of(message)


@pytest.mark.parametrize(
    "rows",
    [
        pytest.param([ROW_A, ROW_B], id="floats-and-ints"),
        pytest.param([[1, 2, 3, 4]], id="all-ints"),
        pytest.param([[2**63, 1, 1, 1]], id="beyond-int64"),
        pytest.param([ROW_A, [10**400, 3.5, 1.4, 0.2]], id="beyond-float64"),
        pytest.param([ROW_A, [1, 2, 3]], id="ragged"),
        pytest.param([[1, 2, 3]], id="too-narrow"),
        pytest.param([["5.1", 3.5, 1.4, 0.2]], id="numeric-string"),
        pytest.param([[None, 3.5, 1.4, 0.2]], id="null"),
        pytest.param([[[1], 2, 3, 4]], id="nested"),
        pytest.param([{"a": 1}], id="object-row"),
        pytest.param([ROW_A, 5], id="number-row"),
        pytest.param([[[1, 2], [3, 4]], [[5, 6], [7, 8]]], id="rows-of-pairs"),
        pytest.param([[], []], id="empty-rows"),
        pytest.param([[1e308, 1e308, 1e308, 1e308]], id="sum-overflows"),
        pytest.param([[-0.0, 1e-320, -5, 7e15]], id="odd-floats"),
    ],
)
def test_numpy_inference_path_agrees_with_the_checked_path(rows: list[Any]) -> None:
    def outcome(payload: Rows) -> Any:
        try:
            return to_batch(payload, NAMED)
        except InvalidInputError as exc:
            return exc.message

    checked = outcome(Rows(rows))
    marks = [Rows(rows, no_booleans=True)]
    # As the JSON decoder marks these rows (numbers_only only when nothing else is there).
    # It refuses numbers past a double outright, and a list of objects is records.
    with contextlib.suppress(InvalidRequestError):
        decoded, _ = decode_predict_body(json.dumps({"instances": rows}).encode())
        if isinstance(decoded, Rows):
            assert decoded.numbers_only is _numbers_and_lists(rows)
            marks.append(decoded)
    for marked in marks:
        inferred = outcome(marked)
        if isinstance(checked, str):
            assert inferred == checked
        else:
            np.testing.assert_array_equal(inferred, checked)
            assert inferred.dtype == np.float64


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(Records([record(ROW_A)]), id="records"),
        pytest.param(Columns({n: [v] for n, v in zip(NAMES, ROW_A, strict=True)}), id="columns"),
        pytest.param(Split(list(NAMES), [ROW_A]), id="split"),
    ],
)
@pytest.mark.parametrize(
    ("signature", "count"),
    [(COUNT_ONLY, "4 numbers"), (UNKNOWN, "numbers")],
    ids=["count-only", "unknown"],
)
def test_named_shapes_need_feature_names(
    payload: Payload, signature: Signature, count: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        to_batch(payload, signature)
    message = caught.value.message
    assert "this model has no feature names (add 'features:' to its model.yaml)" in message
    assert f'send each row as a list of {count}, e.g. {{"instances": [[...]]}}' in message


def test_invalid_input_error_is_a_422() -> None:
    with pytest.raises(InvalidInputError) as caught:
        to_batch(Rows([[1, 2, 3]]), NAMED)
    assert caught.value.status_code == 422
    assert caught.value.code == "invalid_input"


def test_long_strings_are_shortened_in_messages() -> None:
    with pytest.raises(InvalidInputError) as caught:
        to_batch(Rows([[5.1, "x" * 100, 1.4, 0.2]]), NAMED)
    assert f"got string '{'x' * 40}'… (100 characters)" in caught.value.message
    assert "x" * 41 not in caught.value.message


# -- known bugs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(Rows([ROW_A, [10**400, 3.5, 1.4, 0.2]]), id="rows-fast-path"),
        pytest.param(Records([record(ROW_A), record([10**400, 3.5, 1.4, 0.2])]), id="records"),
    ],
)
def test_huge_integer_is_rejected_as_not_finite(payload: Payload) -> None:
    with pytest.raises(InvalidInputError, match=r"row 1, feature 'sepal_length'"):
        to_batch(payload, NAMED)


def test_bool_feature_rejects_other_numbers_on_the_fast_path() -> None:
    with pytest.raises(InvalidInputError, match=r"row 0, feature 'flag': expected true or false"):
        to_batch(Rows([[2, 1.5]]), BOOL_SIZE)


def test_ragged_rows_message_names_the_row() -> None:
    with pytest.raises(InvalidInputError, match=r"row 2"):
        to_batch(Rows([[1, 2], [3, 4], [5, 6, 7]]), UNKNOWN)


def test_reordered_split_short_row_says_how_many_values() -> None:
    with pytest.raises(InvalidInputError, match=r"row 1.*3 values"):
        to_batch(Split(REVERSED, [ROW_A, [1, 2, 3]]), NAMED)


def test_rows_with_no_values_are_rejected() -> None:
    with pytest.raises(InvalidInputError, match=r"row 0"):
        to_batch(Rows([[], []]), UNKNOWN)


# -- count_rows --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        pytest.param(Rows([ROW_A, ROW_B, ROW_A]), 3, id="rows"),
        pytest.param(Rows([]), 0, id="rows-empty"),
        pytest.param(Records([record(ROW_A), record(ROW_B)]), 2, id="records"),
        pytest.param(Columns({n: [1, 2, 3, 4, 5] for n in NAMES}), 5, id="columns"),
        pytest.param(Columns({}), 0, id="columns-empty"),
        pytest.param(Columns({"a": 1.0, "b": [1, 2]}), 0, id="columns-first-not-a-list"),
        pytest.param(Split(list(NAMES), [ROW_A, ROW_B]), 2, id="split"),
    ],
)
def test_count_rows(payload: Payload, expected: int) -> None:
    assert count_rows(payload) == expected
