"""inputs.Tensors, the payload the Open Inference Protocol decodes into: one 2-D tensor or
one 1-D tensor per feature, any V2 datatype, checked against the signature."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelport.errors import InvalidInputError
from modelport.inputs import to_batch
from modelport.payloads import Tensors, count_rows
from modelport.signature import Feature, ModelHints, build_signature

NAMES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
ROWS = np.array([[5.1, 3.5, 1.4, 0.2], [6.0, 2.9, 4.3, 1.0]])
NAMED = build_signature(ModelHints(n_features=4), [Feature(name) for name in NAMES])
FRAME = build_signature(ModelHints(feature_names=tuple(NAMES), n_features=4))
COUNT_ONLY = build_signature(ModelHints(n_features=4))
ALLOW_MISSING = build_signature(
    ModelHints(n_features=4), [Feature(name) for name in NAMES], allow_missing=True
)
MIXED = build_signature(
    ModelHints(), [Feature("color", "str"), Feature("size"), Feature("flag", "bool")]
)


def columns(array: np.ndarray) -> Tensors:
    return Tensors({name: array[:, j] for j, name in enumerate(NAMES)})


@pytest.mark.parametrize("dtype", ["f2", "f4", "f8", "i1", "i8", "u1", "u8"])
def test_one_matrix_of_any_numeric_dtype(dtype: str) -> None:
    data = np.array([[5, 3, 1, 0], [6, 2, 4, 1]], dtype=dtype)
    batch = to_batch(Tensors({"whatever": data}), NAMED)
    assert isinstance(batch, np.ndarray) and batch.dtype == np.float64
    np.testing.assert_array_equal(batch, data.astype(np.float64))


def test_matrix_and_columns_give_the_same_batch() -> None:
    from_matrix = to_batch(Tensors({"input-0": ROWS}), NAMED)
    from_columns = to_batch(columns(ROWS), NAMED)
    np.testing.assert_array_equal(from_matrix, ROWS)
    np.testing.assert_array_equal(from_columns, ROWS)
    reordered = Tensors({name: ROWS[:, NAMES.index(name)] for name in reversed(NAMES)})
    np.testing.assert_array_equal(to_batch(reordered, NAMED), ROWS)
    assert count_rows(Tensors({"x": ROWS})) == 2


def test_columns_of_shape_rows_by_one_and_a_frame_when_the_model_wants_one() -> None:
    tensors = Tensors({name: ROWS[:, [j]] for j, name in enumerate(NAMES)})
    batch = to_batch(tensors, FRAME)
    assert isinstance(batch, pd.DataFrame)
    assert list(batch.columns) == NAMES


def test_read_only_buffers_are_copied() -> None:
    raw = np.frombuffer(ROWS.tobytes(), dtype=np.float64).reshape(2, 4)
    batch = to_batch(Tensors({"x": raw}), COUNT_ONLY)
    assert batch.flags.writeable


def test_mixed_types_by_column() -> None:
    tensors = Tensors(
        {
            "color": np.array([b"red", "blue"], dtype=object),
            "size": np.array([1.5, 2], dtype=np.float32),
            "flag": np.array([True, False]),
        }
    )
    batch = to_batch(tensors, MIXED)
    assert batch["color"].tolist() == ["red", "blue"]
    assert batch["flag"].tolist() == [1.0, 0.0]


def test_nan_is_a_missing_value() -> None:
    holes = ROWS.copy()
    holes[1, 2] = np.nan
    batch = to_batch(Tensors({"x": holes}), ALLOW_MISSING)
    assert np.isnan(batch[1, 2])
    with pytest.raises(InvalidInputError, match="row 1, feature 'petal_length'"):
        to_batch(Tensors({"x": holes}), NAMED)
    infinite = ROWS.copy()
    infinite[0, 0] = np.inf
    with pytest.raises(InvalidInputError, match="not a finite number"):
        to_batch(Tensors({"x": infinite}), ALLOW_MISSING)


@pytest.mark.parametrize(
    ("tensors", "message"),
    [
        ({}, "no input tensors"),
        ({"x": np.zeros((2, 3))}, "has shape [2, 3] but the model takes 4 features"),
        ({"x": np.zeros((0, 4))}, "holds no rows"),
        ({"x": np.zeros(4)}, "(shape [1, 4] for one row)"),
        ({"x": np.zeros((1, 2, 2))}, "has shape [1, 2, 2]"),
        ({"x": np.array([["a", "b", "c", "d"]], dtype=object)}, "expected a number, got string"),
        ({"x": np.array([[b"\xff", 1, 1, 1]], dtype=object)}, "is not UTF-8 text"),
    ],
)
def test_refusals(tensors: dict[str, np.ndarray], message: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        to_batch(Tensors(tensors), NAMED)
    assert message in caught.value.message


def test_column_refusals() -> None:
    partial = Tensors({name: ROWS[:, 0] for name in NAMES[:3]})
    with pytest.raises(InvalidInputError, match=r"missing feature\(s\) \['petal_width'\]"):
        to_batch(partial, NAMED)
    ragged = Tensors({name: ROWS[: 1 + (j == 0), 0] for j, name in enumerate(NAMES)})
    with pytest.raises(InvalidInputError, match="different lengths"):
        to_batch(ragged, NAMED)
    empty = Tensors({name: np.zeros(0) for name in NAMES})
    with pytest.raises(InvalidInputError, match="empty"):
        to_batch(empty, NAMED)
    with pytest.raises(InvalidInputError, match="no feature names"):
        to_batch(Tensors({"a": np.zeros(2), "b": np.zeros(2)}), COUNT_ONLY)
