"""V2 tensors <-> NumPy: every datatype, JSON (flat and nested) and raw bytes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from modelport.errors import InvalidRequestError
from modelport.protocols.v2_codec import (
    DATATYPES,
    array_datatype,
    deserialize_bytes,
    predictions_array,
    serialize_bytes,
    tensor_from_json,
    tensor_from_raw,
    tensor_from_values,
    tensor_to_json,
    tensor_to_raw,
)

NUMERIC = [d for d in DATATYPES if d not in ("BOOL", "BYTES")]


@pytest.mark.parametrize("datatype", NUMERIC)
def test_every_numeric_datatype_from_json_and_raw(datatype: str) -> None:
    dtype = DATATYPES[datatype]
    expected = np.array([[1, 2], [3, 4]], dtype=dtype)
    from_json = tensor_from_json("x", datatype, [2, 2], [1, 2, 3, 4])
    from_raw = tensor_from_raw("x", datatype, [2, 2], expected.tobytes())
    for array in (from_json, from_raw):
        assert array.dtype == dtype
        assert array.shape == (2, 2)
        np.testing.assert_array_equal(array, expected)


def test_bool_and_bytes() -> None:
    flags = tensor_from_json("b", "BOOL", [3], [True, False, True])
    assert flags.tolist() == [True, False, True]
    assert tensor_from_raw("b", "BOOL", [3], b"\x01\x00\x02").tolist() == [True, False, True]
    words = tensor_from_json("s", "BYTES", [2], ["a", "bc"])
    assert words.dtype == object and words.tolist() == ["a", "bc"]
    raw = serialize_bytes(["a", "bc"])
    assert raw == b"\x01\x00\x00\x00a\x02\x00\x00\x00bc"
    assert tensor_from_raw("s", "BYTES", [1, 2], raw).tolist() == [[b"a", b"bc"]]
    assert deserialize_bytes("s", b"") == []


def test_nested_data_is_row_major() -> None:
    nested = tensor_from_json("x", "FP64", [2, 2], [[1.5, 2], [3, 4]])
    flat = tensor_from_json("x", "FP64", [2, 2], [1.5, 2, 3, 4])
    np.testing.assert_array_equal(nested, flat)
    assert nested[0, 1] == 2


def test_fp32_values_keep_their_meaning() -> None:
    array = tensor_from_json("x", "FP32", [1, 2], [5.1, 3])
    assert array.dtype == np.float32
    assert array[0, 0] == pytest.approx(5.1)


def test_the_largest_empty_shape_allowed_is_made() -> None:
    assert tensor_from_json("x", "FP64", [0, 2**32], []).shape == (0, 2**32)
    assert tensor_from_raw("x", "FP64", [0, 2**16, 2**16], b"").shape == (0, 2**16, 2**16)


def test_a_huge_name_is_quoted_short() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        tensor_from_json("n" * 9_000_000, "FP64", [2], [1.0])
    assert "(9,000,000 characters)" in caught.value.message
    assert len(caught.value.message) < 300


@pytest.mark.parametrize(
    ("datatype", "shape", "data", "message"),
    [
        ("FP32", [2, 4], [1.0, 2.0, 3.0], "shape [2, 4] needs 8 value(s) but data holds 3"),
        ("FP128", [1], [1.0], "unknown datatype 'FP128'"),
        (None, [1], [1.0], "unknown datatype None"),
        ("FP32", [1], ["5.1"], "FP32, which needs numbers; got string '5.1'"),
        ("INT64", [1], [1.5], "INT64, which needs integers; got float 1.5"),
        ("INT64", [1], [True], "INT64, which needs integers; got true"),
        ("BOOL", [1], [1], "BOOL, which needs true or false; got int 1"),
        ("BYTES", [1], [1], "BYTES, which needs strings; got int 1"),
        ("FP64", [1], [None], "got null"),
        ("UINT8", [1], [300], "does not fit UINT8"),
        ("UINT32", [1], [-1], "does not fit UINT32"),
        ("FP32", [-1, 4], [1.0], "must hold sizes"),
        ("FP32", [0, 2**63], [], "must hold sizes (whole numbers from 0 to 9223372036854775807)"),
        ("FP32", [0, 2**63 - 1], [], "describes more than 4294967296 elements"),
        ("FP32", [2**63 - 1, 0], [], "describes more than 4294967296 elements"),
        ("FP32", [0, 2**40, 2**40], [], "describes more than 4294967296 elements"),
        ("FP32", [1] * 33, [1.0], "shape has 33 sizes; a tensor has at most 32"),
        ("FP32", [1, 1.0], [1.0], "must hold sizes"),
        ("FP32", [1, True], [1.0], "must hold sizes"),
        ("FP32", "2", [1.0], "shape must be a list"),
        ("FP32", [1], 1.0, "data must be a list"),
        ("FP32", [2], [[1.0], 2.0], "mixes lists and values"),
    ],
)
def test_json_refusals_name_the_input(datatype: Any, shape: Any, data: Any, message: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        tensor_from_json("x", datatype, shape, data)
    assert message in caught.value.message
    assert "input 'x'" in caught.value.message


@pytest.mark.parametrize(
    ("datatype", "shape", "raw", "message"),
    [
        ("FP32", [2], b"\x00" * 4, "the binary data has 4 bytes, not 8"),
        ("BYTES", [2], serialize_bytes(["a"]), "the binary data holds 1"),
        ("BYTES", [1], b"\x05\x00\x00\x00ab", "runs past the data"),
        ("BYTES", [1], b"\x05\x00", "ends inside a length prefix"),
        ("FP64", [0, 2**63 - 1], b"", "describes more than"),
        ("BYTES", [0, 2**63 - 1], b"", "describes more than"),
    ],
)
def test_raw_refusals(datatype: str, shape: list[int], raw: bytes, message: str) -> None:
    with pytest.raises(InvalidRequestError, match="input 'x'") as caught:
        tensor_from_raw("x", datatype, shape, raw)
    assert message in caught.value.message


def test_typed_values_and_their_count() -> None:
    assert tensor_from_values("x", "INT32", [2], [1, 2]).tolist() == [1, 2]
    with pytest.raises(InvalidRequestError, match="the contents hold 1"):
        tensor_from_values("x", "FP64", [1, 2], [1.0])
    with pytest.raises(InvalidRequestError, match="does not fit INT8"):
        tensor_from_values("x", "INT8", [1], [1000])


@pytest.mark.parametrize(
    ("values", "datatype"),
    [
        (["setosa", "virginica"], "BYTES"),
        ([1, 2], "INT64"),
        ([0.5, 1.5], "FP64"),
        ([True, False], "BOOL"),
        ([[1.0, 2.0]], "FP64"),
    ],
)
def test_output_datatypes_and_round_trips(values: list[Any], datatype: str) -> None:
    array = np.asarray(values)
    assert array_datatype(array) == datatype
    raw = tensor_to_raw(array, datatype)
    back = tensor_from_raw("out", datatype, list(array.shape), raw)
    expected = [v.encode() for v in values] if datatype == "BYTES" else values
    assert back.tolist() == expected
    data = tensor_to_json(array, datatype)
    assert list(data) == list(np.asarray(values).reshape(-1).tolist())


@pytest.mark.parametrize(
    ("predictions", "datatype", "json_data"),
    [
        (["setosa", "virginica"], "BYTES", ["setosa", "virginica"]),
        (["a", b"b"], "BYTES", ["a", "b"]),  # bytes among labels are decoded
        (["a", 1], "BYTES", ["a", "1"]),  # as NumPy's typing would have it
        ([0, 2], "INT64", [0, 2]),
        ([0.5, 1.5], "FP64", [0.5, 1.5]),
        (np.array([1, 0]), "INT64", [1, 0]),
    ],
)
def test_predictions_become_output_tensors(
    predictions: Any, datatype: str, json_data: list[Any]
) -> None:
    array = predictions_array(predictions)
    assert array.shape == (2,)
    assert array_datatype(array) == datatype
    assert list(tensor_to_json(array, datatype)) == json_data
    raw = tensor_to_raw(array, datatype)
    back = tensor_from_raw("out", datatype, [2], raw).tolist()
    assert back == ([str(v).encode() if isinstance(v, str) else v for v in json_data])


def test_labels_stay_python_strings_of_any_length() -> None:
    labels = ["x" * 300, "é", ""]
    array = predictions_array(labels)
    assert array.dtype == object and array.tolist() == labels
    assert tensor_to_json(array, "BYTES") == labels


def test_unsigned_outputs_keep_their_range() -> None:
    assert array_datatype(np.array([1], dtype=np.uint64)) == "UINT64"
    assert array_datatype(np.array([1], dtype=np.uint8)) == "INT64"
