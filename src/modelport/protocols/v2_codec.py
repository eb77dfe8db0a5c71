"""Open Inference Protocol (V2) tensors <-> NumPy arrays.

Data arrive as JSON lists (flat or nested, row-major), as typed gRPC contents, or as raw
little-endian bytes (the binary tensor data extension and gRPC ``raw_*_contents``; BYTES
elements are each a 4-byte little-endian length followed by the bytes). Every mismatch
between ``datatype``, ``shape`` and the data is an :class:`InvalidRequestError` naming the
tensor. A shape is checked before NumPy sees it: sizes within int64 and at most
:data:`MAX_DIMS` of them, and no more than :data:`MAX_ELEMENTS` elements even where a
size of 0 makes the tensor empty (NumPy refuses ``[0, 2**63 - 1]`` with a ValueError).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import chain
from typing import Any

import numpy as np

from modelport.clienttext import INT64_MAX
from modelport.errors import InvalidRequestError, shown
from modelport.types import NDArray

__all__ = [
    "DATATYPES",
    "MAX_DIMS",
    "MAX_ELEMENTS",
    "array_datatype",
    "deserialize_bytes",
    "predictions_array",
    "serialize_bytes",
    "tensor_from_json",
    "tensor_from_raw",
    "tensor_from_values",
    "tensor_to_json",
    "tensor_to_raw",
]

#: Every V2 datatype and the NumPy dtype of its elements (little-endian on the wire).
DATATYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
    "BYTES": np.dtype(object),
}

#: The most dimensions a tensor may have (NumPy's own limit is 64).
MAX_DIMS = 32
#: The most elements a tensor's shape may describe, sizes of 0 counted as 1: more than
#: any request body carries, and far below what would overflow NumPy's byte count.
MAX_ELEMENTS = 2**32

#: The Python types JSON data may hold for each kind of datatype.
_JSON_TYPES: dict[str, frozenset[type]] = {
    "b": frozenset({bool}),
    "u": frozenset({int}),
    "i": frozenset({int}),
    "f": frozenset({int, float}),
    "O": frozenset({str}),
}
_NEEDS = {"b": "true or false", "u": "integers", "i": "integers", "f": "numbers", "O": "strings"}


def _input(name: str) -> str:
    return f"input {shown(name)}"


def _dtype(name: str, datatype: Any) -> np.dtype[Any]:
    dtype = DATATYPES.get(datatype) if isinstance(datatype, str) else None
    if dtype is None:
        raise InvalidRequestError(
            f"{_input(name)}: unknown datatype {shown(datatype)}; use one of {list(DATATYPES)}"
        )
    return dtype


def _shape(name: str, shape: Any) -> tuple[int, ...]:
    # JSON gives a list, gRPC a repeated field: the ABC check only for the latter.
    if type(shape) is not list and (
        not isinstance(shape, Sequence) or isinstance(shape, str | bytes)
    ):
        raise InvalidRequestError(
            f"{_input(name)}: shape must be a list of sizes, got {shown(shape)}"
        )
    dims = tuple(shape)
    if len(dims) > MAX_DIMS:
        raise InvalidRequestError(
            f"{_input(name)}: shape has {len(dims)} sizes; a tensor has at most {MAX_DIMS}"
        )
    if not all(type(d) is int and 0 <= d <= INT64_MAX for d in dims):
        raise InvalidRequestError(
            f"{_input(name)}: shape {shown(list(dims))} must hold sizes "
            f"(whole numbers from 0 to {INT64_MAX})"
        )
    if math.prod(d or 1 for d in dims) > MAX_ELEMENTS:
        raise InvalidRequestError(
            f"{_input(name)}: shape {shown(list(dims))} describes more than {MAX_ELEMENTS} "
            "elements (sizes of 0 counted as 1)"
        )
    return dims


def _mismatch(name: str, dims: tuple[int, ...], count: int, got: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"{_input(name)}: shape {shown(list(dims))} needs {count} value(s) but {got}"
    )


def tensor_from_json(name: str, datatype: Any, shape: Any, data: Any) -> NDArray:
    """A tensor from the JSON of a REST request; ``data`` flat or nested row-major."""
    dtype = _dtype(name, datatype)
    dims = _shape(name, shape)
    flat = _flatten(name, data)
    count = math.prod(dims)
    if len(flat) != count:
        raise _mismatch(name, dims, count, f"data holds {len(flat)}")
    allowed = _JSON_TYPES[dtype.kind]
    if not set(map(type, flat)) <= allowed:
        bad = next(value for value in flat if type(value) not in allowed)
        raise InvalidRequestError(
            f"{_input(name)} is {datatype}, which needs {_NEEDS[dtype.kind]}; got {_describe(bad)}"
        )
    return _array(name, datatype, dtype, flat).reshape(dims)


def tensor_from_values(name: str, datatype: Any, shape: Any, values: Sequence[Any]) -> NDArray:
    """A tensor from values already typed by the transport (gRPC ``contents``)."""
    dtype = _dtype(name, datatype)
    dims = _shape(name, shape)
    count = math.prod(dims)
    if len(values) != count:
        raise _mismatch(name, dims, count, f"the contents hold {len(values)}")
    return _array(name, datatype, dtype, list(values)).reshape(dims)


def tensor_from_raw(name: str, datatype: Any, shape: Any, raw: bytes) -> NDArray:
    """A tensor from raw little-endian bytes (binary extension, gRPC raw contents)."""
    dtype = _dtype(name, datatype)
    dims = _shape(name, shape)
    count = math.prod(dims)
    if dtype.kind == "O":
        values = deserialize_bytes(name, raw)
        if len(values) != count:
            raise _mismatch(name, dims, count, f"the binary data holds {len(values)}")
        return _array(name, datatype, dtype, values).reshape(dims)
    if len(raw) != count * dtype.itemsize:
        raise _mismatch(
            name, dims, count, f"the binary data has {len(raw)} bytes, not {count * dtype.itemsize}"
        )
    if dtype.kind == "b":  # one byte per element; any non-zero byte is true
        flags: NDArray = np.frombuffer(raw, dtype=np.uint8) != 0
        return flags.reshape(dims)
    return np.frombuffer(raw, dtype=dtype).reshape(dims)


def _array(name: str, datatype: str, dtype: np.dtype[Any], values: list[Any]) -> NDArray:
    if dtype.kind == "O":
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return array
    try:
        return np.array(values, dtype=dtype)
    except (OverflowError, ValueError, TypeError) as exc:
        raise InvalidRequestError(
            f"{_input(name)}: a value does not fit {datatype}: {exc}"
        ) from None


def _flatten(name: str, data: Any) -> list[Any]:
    if not isinstance(data, list):
        raise InvalidRequestError(f"{_input(name)}: data must be a list, got {_describe(data)}")
    flat: list[Any] = data
    while flat and type(flat[0]) is list:
        if not all(type(item) is list for item in flat):
            raise InvalidRequestError(f"{_input(name)}: data mixes lists and values")
        flat = list(chain.from_iterable(flat))
    return flat


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f"string {shown(value)}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"{type(value).__name__} {shown(value)}"


def deserialize_bytes(name: str, raw: bytes) -> list[bytes]:
    """Split length-prefixed BYTES elements (4-byte little-endian length, then bytes)."""
    values: list[bytes] = []
    offset, end = 0, len(raw)
    view = memoryview(raw)
    while offset < end:
        if offset + 4 > end:
            raise InvalidRequestError(f"{_input(name)}: BYTES data ends inside a length prefix")
        size = int.from_bytes(view[offset : offset + 4], "little")
        offset += 4
        if offset + size > end:
            raise InvalidRequestError(
                f"{_input(name)}: a BYTES element of {size} bytes runs past the data"
            )
        values.append(bytes(view[offset : offset + size]))
        offset += size
    return values


def serialize_bytes(values: Sequence[Any]) -> bytes:
    """Length-prefix each element (str as UTF-8, else bytes or its str())."""
    parts: list[bytes] = []
    for value in values:
        data = value if isinstance(value, bytes) else str(value).encode()
        parts.append(len(data).to_bytes(4, "little"))
        parts.append(data)
    return b"".join(parts)


def array_datatype(array: NDArray) -> str:
    """The V2 datatype for an output array (labels become BYTES)."""
    kind = array.dtype.kind
    if kind == "b":
        return "BOOL"
    if kind in "iu":
        return "INT64" if kind == "i" or array.dtype.itemsize < 8 else "UINT64"
    if kind == "f":
        return "FP64"
    return "BYTES"


def predictions_array(predictions: Sequence[Any]) -> NDArray:
    """A model's predictions as an output tensor's array.

    Labels (a list holding str) become an object array without NumPy's string typing,
    which measures every label and copies it into a fixed-width array: for 1,000 labels
    that and turning them back into str cost more than the model call (make
    bench-profile). Either way the tensor is BYTES and every value is sent as its str.
    """
    if isinstance(predictions, list) and predictions and type(predictions[0]) is str:
        array = np.empty(len(predictions), dtype=object)
        array[:] = predictions
        return array
    return np.asarray(predictions)


def tensor_to_json(array: NDArray, datatype: str) -> Any:
    """Flat row-major data for a JSON response (numeric arrays go to orjson as they are)."""
    flat = array.reshape(-1)
    if datatype == "BYTES":
        values = flat.tolist()
        if set(map(type, values)) <= {str}:  # labels: already what JSON takes
            return values
        return [
            value.decode(errors="replace") if isinstance(value, bytes) else str(value)
            for value in values
        ]
    return np.ascontiguousarray(flat, dtype=DATATYPES[datatype])


def tensor_to_raw(array: NDArray, datatype: str) -> bytes:
    """Raw little-endian bytes of an output tensor."""
    if datatype == "BYTES":
        return serialize_bytes(array.reshape(-1).tolist())
    if datatype == "BOOL":
        return np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    return np.ascontiguousarray(array, dtype=DATATYPES[datatype]).tobytes()
