"""Any accepted payload shape -> the 2-D batch a model takes, checked against its signature.

Protocol modules decode their envelope into one of five shapes (``payloads.py``: rows,
records, columns, split, or NumPy tensors) and call :func:`to_batch`. Every rejection is
an :class:`InvalidInputError` whose message names the row (counted from 0) and the
feature at fault (``input_checks.py``, the careful path).
"""

from __future__ import annotations

from itertools import chain
from typing import Any

import numpy as np

from modelport.errors import InvalidInputError, InvalidRequestError, shown
from modelport.input_checks import (
    NUMBER_TYPES,
    build_rows,
    check_finite,
    finish_numeric,
    kind_of,
    raise_key_mismatch,
    require_names,
    require_nonempty_list,
)
from modelport.payloads import Columns, Payload, Records, Rows, Split, Tensors
from modelport.signature import Signature
from modelport.types import Batch, NDArray

__all__ = ["to_batch"]

#: NumPy dtype kinds that are plain numbers: bool, signed, unsigned, float.
_NUMERIC_KINDS = frozenset("biuf")


def to_batch(payload: Payload, signature: Signature) -> Batch:
    """Validate ``payload`` against ``signature`` and build the model's input batch."""
    if isinstance(payload, Rows):
        if payload.numbers_only and signature.plain_numbers:
            array = _number_rows(payload.rows, signature.n_features)
            if array is not None:
                check_finite(array, signature)
                return finish_numeric(array, signature)
        if payload.no_booleans and signature.plain_numbers:
            array = _numeric_rectangle(payload.rows, signature.n_features)
            if array is not None:
                check_finite(array, signature)
                return finish_numeric(array, signature)
        return _from_rows(payload.rows, signature)
    if isinstance(payload, Records):
        return _from_records(payload.records, signature)
    if isinstance(payload, Columns):
        return _from_columns(payload.columns, signature)
    if isinstance(payload, Tensors):
        return _from_tensors(payload.tensors, signature)
    return _from_split(payload, signature)


def _number_rows(rows: Any, width: int | None) -> NDArray | None:
    """Rows known to hold only numbers and lists (``Rows.numbers_only``) as one float64
    array, or None for the next path.

    About twice as fast as NumPy's own inference: one length per row, then the values
    stream into a preallocated array. A row that is a number has no length, and a list
    nested in a row cannot become a float; both raise, as an integer past a double does.
    """
    if type(rows) is not list or not rows:
        return None
    try:
        widths = set(map(len, rows))
    except TypeError:
        return None
    if len(widths) != 1:
        return None
    found = widths.pop()
    if found == 0 or (width is not None and found != width):
        return None
    try:
        values = np.fromiter(chain.from_iterable(rows), np.float64, count=len(rows) * found)
    except (TypeError, ValueError, OverflowError):
        return None
    return values.reshape(len(rows), found)


def _numeric_rectangle(rows: Any, width: int | None) -> NDArray | None:
    """Rows of plain numbers as one float64 array, or None for the careful path.

    One C pass instead of a Python check per value (half the cost of a 1,000-row
    request): NumPy infers int or float only when every value is a number, since
    strings, nulls, objects and integers beyond 64 bits give other dtypes and ragged
    rows raise. Booleans would become numbers, which is why the caller rules them out.
    """
    if type(rows) is not list or not rows:
        return None
    try:
        array = np.array(rows)
    except (ValueError, OverflowError):
        return None
    if array.ndim != 2 or array.dtype.kind not in "iuf" or array.shape[1] == 0:
        return None
    if width is not None and array.shape[1] != width:
        return None
    return array.astype(np.float64, copy=False)


# -- the five shapes -------------------------------------------------------------------


def _from_rows(rows: Any, signature: Signature) -> Batch:
    require_nonempty_list(rows, "instances")
    width = signature.n_features
    if all(type(row) is list for row in rows):
        if width is None:
            width = len(rows[0])
            odd = next((i for i, row in enumerate(rows) if len(row) != width), None)
            if odd is not None:
                raise InvalidInputError(
                    f"row {odd} has {len(rows[odd])} values but row 0 has {width}; "
                    "rows must all have the same number of values"
                )
        if width == 0:
            raise InvalidInputError("row 0 has no values")
        # Fast path: a rectangle of plain numbers becomes one float64 array in C.
        if (
            signature.plain_numbers
            and all(len(row) == width for row in rows)
            and set(map(type, chain.from_iterable(rows))) <= NUMBER_TYPES
        ):
            try:
                array = np.array(rows, dtype=np.float64)
            except OverflowError:
                pass  # an integer beyond float64: the careful path names it
            else:
                check_finite(array, signature)
                return finish_numeric(array, signature)
    return build_rows(rows, signature, width)


def _from_records(records: Any, signature: Signature) -> Batch:
    require_nonempty_list(records, "records")
    features = require_names(signature)
    names = [f.name for f in features]
    known = set(names)
    rows: list[list[Any]] = []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise InvalidInputError(
                f"row {index}: expected an object keyed by feature name, got {kind_of(record)}"
            )
        if record.keys() != known:
            raise_key_mismatch(f"row {index}", record.keys(), names)
        rows.append([record[name] for name in names])
    return build_rows(rows, signature, len(names))


def _from_columns(columns: Any, signature: Signature) -> Batch:
    if not isinstance(columns, dict) or not columns:
        raise InvalidRequestError(
            "inputs must be an object mapping each feature name to a list of values"
        )
    features = require_names(signature)
    names = [f.name for f in features]
    if columns.keys() != set(names):
        raise_key_mismatch("inputs", columns.keys(), names)
    lengths = {}
    for name in names:
        values = columns[name]
        if not isinstance(values, list):
            raise InvalidRequestError(f"inputs['{name}'] must be a list, got {kind_of(values)}")
        lengths[name] = len(values)
    if len(set(lengths.values())) != 1:
        raise InvalidInputError(f"inputs columns have different lengths: {lengths}")
    if not next(iter(lengths.values())):
        raise InvalidInputError("inputs columns are empty: send at least one row")
    rows = [list(row) for row in zip(*(columns[name] for name in names), strict=True)]
    return _from_rows(rows, signature)


def _from_split(split: Split, signature: Signature) -> Batch:
    features = require_names(signature)
    names = [f.name for f in features]
    if not isinstance(split.columns, list) or not all(isinstance(c, str) for c in split.columns):
        raise InvalidRequestError("dataframe_split.columns must be a list of feature names")
    if len(set(split.columns)) != len(split.columns):
        raise InvalidInputError(f"dataframe_split.columns repeats a name: {shown(split.columns)}")
    if set(split.columns) != set(names):
        raise_key_mismatch("dataframe_split.columns", split.columns, names)
    require_nonempty_list(split.data, "dataframe_split.data")
    if split.columns == names:
        return _from_rows(split.data, signature)
    order = [split.columns.index(name) for name in names]
    rows = []
    for index, row in enumerate(split.data):
        if not isinstance(row, list) or len(row) != len(names):
            got = f"{len(row)} values" if isinstance(row, list) else kind_of(row)
            raise InvalidInputError(
                f"dataframe_split.data row {index}: expected a list of {len(names)} values, "
                f"got {got}"
            )
        rows.append([row[j] for j in order])
    return _from_rows(rows, signature)


def _from_tensors(tensors: dict[str, NDArray], signature: Signature) -> Batch:
    if not tensors:
        raise InvalidInputError(
            "no input tensors: send one 2-D tensor [rows, features] "
            "or one 1-D tensor [rows] per feature, named by the feature"
        )
    if len(tensors) == 1:
        name, array = next(iter(tensors.items()))
        if array.ndim == 2:
            return _from_matrix(name, array, signature)
    names = [f.name for f in require_names(signature)]
    columns = _feature_columns(tensors, names)
    if columns.keys() != set(names):
        raise_key_mismatch("inputs", columns.keys(), names)
    lengths = {name: len(columns[name]) for name in names}
    if len(set(lengths.values())) != 1:
        raise InvalidInputError(f"input tensors have different lengths: {lengths}")
    if not lengths[names[0]]:
        raise InvalidInputError("input tensors are empty: send at least one row")
    ordered = [columns[name] for name in names]
    if signature.plain_numbers and all(a.dtype.kind in _NUMERIC_KINDS for a in ordered):
        return _from_numeric_tensor(np.column_stack(ordered), signature)
    rows = [list(row) for row in zip(*map(_tensor_values, ordered), strict=True)]
    return build_rows(rows, signature, len(names))


def _feature_columns(tensors: dict[str, NDArray], names: list[str]) -> dict[str, NDArray]:
    """One 1-D column per tensor ([rows] or [rows, 1]); anything else is refused."""
    columns: dict[str, NDArray] = {}
    for name, array in tensors.items():
        column = array[:, 0] if array.ndim == 2 and array.shape[1] == 1 else array
        if column.ndim != 1 or (len(tensors) == 1 and name not in names):
            raise InvalidInputError(
                f"input {shown(name)} has shape {list(column.shape)}; send one 2-D tensor "
                f"[rows, {len(names)}] (shape [1, {len(names)}] for one row) or one 1-D "
                f"tensor [rows] per feature, named {names}"
            )
        columns[name] = column
    return columns


def _from_matrix(name: str, array: NDArray, signature: Signature) -> Batch:
    count, width = (int(n) for n in array.shape)
    expected = signature.n_features
    if expected is not None and width != expected:
        raise InvalidInputError(
            f"input {shown(name)} has shape [{count}, {width}] but the model takes {expected} "
            f"features: send shape [rows, {expected}]"
        )
    if not count or not width:
        raise InvalidInputError(
            f"input {shown(name)} has shape [{count}, {width}]: it holds no rows"
        )
    if signature.plain_numbers and array.dtype.kind in _NUMERIC_KINDS:
        return _from_numeric_tensor(array, signature)
    return build_rows([_tensor_values(row) for row in array], signature, width)


def _from_numeric_tensor(array: NDArray, signature: Signature) -> Batch:
    matrix = array.astype(np.float64, copy=False)
    if not matrix.flags.writeable:  # a view of the request's bytes: the model gets its own
        matrix = matrix.copy()
    check_finite(matrix, signature, allow_nan=signature.allow_missing)
    return finish_numeric(matrix, signature)


def _tensor_values(array: NDArray) -> list[Any]:
    """One row or column as Python values: NaN becomes None, BYTES become text."""
    values: list[Any] = array.tolist()
    if array.dtype.kind == "f":
        return [None if value != value else value for value in values]
    if array.dtype.kind == "O":
        return [_text(value) for value in values]
    return values


def _text(value: Any) -> Any:
    if not isinstance(value, bytes):
        return value
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise InvalidInputError(f"BYTES value {value[:20]!r} is not UTF-8 text") from None
