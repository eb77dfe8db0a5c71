"""Any accepted payload shape -> the 2-D batch a model takes, checked against its signature.

Protocol modules decode their envelope into one of five shapes (rows, records, columns,
split, or NumPy tensors) and call :func:`to_batch`. Every rejection is an
:class:`InvalidInputError` whose message names the row (counted from 0) and the feature
at fault.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, TypeAlias

import numpy as np

from modelport.errors import InvalidInputError, MissingDependencyError, clip, shown
from modelport.signature import Feature, Signature
from modelport.types import Batch, NDArray

__all__ = ["Columns", "Payload", "Records", "Rows", "Split", "Tensors", "count_rows", "to_batch"]


@dataclass(frozen=True, slots=True)
class Rows:
    """``[[5.1, 3.5, 1.4, 0.2], ...]``: values in the signature's feature order."""

    rows: list[Any]
    #: The decoder saw no ``true``/``false`` in the JSON, so NumPy's own type inference
    #: cannot have turned a boolean into 1.0 and may stand in for the per-value checks.
    no_booleans: bool = False
    #: The decoder saw nothing in the JSON but the envelope's key, numbers, brackets,
    #: commas and spaces: every value is a number or a list (no string, null, boolean or
    #: object anywhere), so the values may be read without asking each for its type.
    numbers_only: bool = False
    #: With ``numbers_only``: the rows' JSON text exactly as the client sent it, which the
    #: prediction log keeps instead of encoding the rows again.
    text: bytes | None = None


@dataclass(frozen=True, slots=True)
class Records:
    """``[{"sepal_length": 5.1, ...}, ...]``: one object per row, keyed by feature."""

    records: list[Any]


@dataclass(frozen=True, slots=True)
class Columns:
    """``{"sepal_length": [5.1, ...], ...}``: one list per feature."""

    columns: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Split:
    """MLflow's ``dataframe_split``: column names plus rows in that column order."""

    columns: list[Any]
    data: list[Any]


@dataclass(frozen=True, slots=True)
class Tensors:
    """Open Inference Protocol inputs as NumPy arrays, by tensor name: one 2-D tensor
    ``[rows, features]`` (any name), or one 1-D tensor per feature, named by the feature.

    BYTES tensors are object arrays of ``bytes`` or ``str``; NaN in a float tensor is a
    missing value (allowed only with ``allow_missing``).
    """

    tensors: dict[str, NDArray]


Payload: TypeAlias = Rows | Records | Columns | Split | Tensors

_NUMBER_TYPES = frozenset({int, float})
#: NumPy dtype kinds that are plain numbers: bool, signed, unsigned, float.
_NUMERIC_KINDS = frozenset("biuf")


def count_rows(payload: Payload) -> int:
    """Rows in a payload, before validation (for logs and metrics)."""
    if isinstance(payload, Rows):
        return len(payload.rows)
    if isinstance(payload, Records):
        return len(payload.records)
    if isinstance(payload, Split):
        return len(payload.data)
    if isinstance(payload, Tensors):
        tensor = next(iter(payload.tensors.values()), None)
        return int(tensor.shape[0]) if tensor is not None and tensor.ndim else 0
    first: Any = next(iter(payload.columns.values()), [])
    return len(first) if isinstance(first, list) else 0


def to_batch(payload: Payload, signature: Signature) -> Batch:
    """Validate ``payload`` against ``signature`` and build the model's input batch."""
    if isinstance(payload, Rows):
        if payload.numbers_only and signature.plain_numbers:
            array = _number_rows(payload.rows, signature.n_features)
            if array is not None:
                _check_finite(array, signature)
                return _finish_numeric(array, signature)
        if payload.no_booleans and signature.plain_numbers:
            array = _numeric_rectangle(payload.rows, signature.n_features)
            if array is not None:
                _check_finite(array, signature)
                return _finish_numeric(array, signature)
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
    _require_nonempty_list(rows, "instances")
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
            and set(map(type, chain.from_iterable(rows))) <= _NUMBER_TYPES
        ):
            try:
                array = np.array(rows, dtype=np.float64)
            except OverflowError:
                pass  # an integer beyond float64: the careful path names it
            else:
                _check_finite(array, signature)
                return _finish_numeric(array, signature)
    return _build(rows, signature, width)


def _from_records(records: Any, signature: Signature) -> Batch:
    _require_nonempty_list(records, "records")
    features = _require_names(signature)
    names = [f.name for f in features]
    known = set(names)
    rows: list[list[Any]] = []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise InvalidInputError(
                f"row {index}: expected an object keyed by feature name, got {_kind(record)}"
            )
        if record.keys() != known:
            _raise_key_mismatch(f"row {index}", record.keys(), names)
        rows.append([record[name] for name in names])
    return _build(rows, signature, len(names))


def _from_columns(columns: Any, signature: Signature) -> Batch:
    if not isinstance(columns, dict) or not columns:
        raise InvalidInputError(
            "inputs must be an object mapping each feature name to a list of values"
        )
    features = _require_names(signature)
    names = [f.name for f in features]
    if columns.keys() != set(names):
        _raise_key_mismatch("inputs", columns.keys(), names)
    lengths = {}
    for name in names:
        values = columns[name]
        if not isinstance(values, list):
            raise InvalidInputError(f"inputs['{name}'] must be a list, got {_kind(values)}")
        lengths[name] = len(values)
    if len(set(lengths.values())) != 1:
        raise InvalidInputError(f"inputs columns have different lengths: {lengths}")
    if not next(iter(lengths.values())):
        raise InvalidInputError("inputs columns are empty: send at least one row")
    rows = [list(row) for row in zip(*(columns[name] for name in names), strict=True)]
    return _from_rows(rows, signature)


def _from_split(split: Split, signature: Signature) -> Batch:
    features = _require_names(signature)
    names = [f.name for f in features]
    if not isinstance(split.columns, list) or not all(isinstance(c, str) for c in split.columns):
        raise InvalidInputError("dataframe_split.columns must be a list of feature names")
    if len(set(split.columns)) != len(split.columns):
        raise InvalidInputError(f"dataframe_split.columns repeats a name: {shown(split.columns)}")
    if set(split.columns) != set(names):
        _raise_key_mismatch("dataframe_split.columns", split.columns, names)
    _require_nonempty_list(split.data, "dataframe_split.data")
    if split.columns == names:
        return _from_rows(split.data, signature)
    order = [split.columns.index(name) for name in names]
    rows = []
    for index, row in enumerate(split.data):
        if not isinstance(row, list) or len(row) != len(names):
            got = f"{len(row)} values" if isinstance(row, list) else _kind(row)
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
    features = _require_names(signature)
    names = [f.name for f in features]
    columns: dict[str, NDArray] = {}
    for name, array in tensors.items():
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim != 1 or (len(tensors) == 1 and name not in names):
            raise InvalidInputError(
                f"input {shown(name)} has shape {list(array.shape)}; send one 2-D tensor "
                f"[rows, {len(names)}] (shape [1, {len(names)}] for one row) or one 1-D "
                f"tensor [rows] per feature, named {names}"
            )
        columns[name] = array
    if columns.keys() != set(names):
        _raise_key_mismatch("inputs", columns.keys(), names)
    lengths = {name: len(columns[name]) for name in names}
    if len(set(lengths.values())) != 1:
        raise InvalidInputError(f"input tensors have different lengths: {lengths}")
    if not lengths[names[0]]:
        raise InvalidInputError("input tensors are empty: send at least one row")
    ordered = [columns[name] for name in names]
    if signature.plain_numbers and all(a.dtype.kind in _NUMERIC_KINDS for a in ordered):
        return _from_numeric_tensor(np.column_stack(ordered), signature)
    rows = [list(row) for row in zip(*map(_tensor_values, ordered), strict=True)]
    return _build(rows, signature, len(names))


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
    return _build([_tensor_values(row) for row in array], signature, width)


def _from_numeric_tensor(array: NDArray, signature: Signature) -> Batch:
    matrix = array.astype(np.float64, copy=False)
    if not matrix.flags.writeable:  # a view of the request's bytes: the model gets its own
        matrix = matrix.copy()
    _check_finite(matrix, signature, allow_nan=signature.allow_missing)
    return _finish_numeric(matrix, signature)


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


# -- the careful path: one value at a time, so the message can point at it -------------


def _row_values(index: int, row: Any, width: int | None) -> Sequence[Any]:
    if not isinstance(row, list):
        raise InvalidInputError(
            f"row {index}: expected a list of values, got {_kind(row)} "
            "(wrap a single row in another list: [[...]])"
        )
    if width is not None and len(row) != width:
        raise InvalidInputError(
            f"row {index} has {len(row)} values but the model takes {width} features"
        )
    return row


def _build(rows: list[Any], signature: Signature, width: int | None) -> Batch:
    features = signature.features
    checked: list[list[Any]] = []
    for index, row in enumerate(rows):
        values = _row_values(index, row, width)
        checked.append(
            [
                _check_value(value, index, j, features[j] if features else None, signature)
                for j, value in enumerate(values)
            ]
        )
    if signature.all_numeric:
        return _finish_numeric(np.array(checked, dtype=np.float64), signature)
    return _frame(checked, signature)


def _check_value(
    value: Any, row: int, col: int, feature: Feature | None, signature: Signature
) -> Any:
    kind = feature.type if feature is not None else "float"
    where = f"row {row}, feature '{feature.name}'" if feature else f"row {row}, column {col}"
    if value is None:
        if signature.allow_missing:
            return None if kind == "str" else math.nan
        raise InvalidInputError(
            f"{where}: missing value (null) is not allowed for this model "
            "(model.yaml 'allow_missing: true' permits it)"
        )
    if kind == "str":
        if isinstance(value, str):
            return value
        raise InvalidInputError(f"{where}: expected a string, got {_kind(value)}")
    if kind == "bool":
        if isinstance(value, bool) or (type(value) is int and value in (0, 1)):
            return float(value)
        raise InvalidInputError(f"{where}: expected true or false, got {_kind(value)}")
    if type(value) not in _NUMBER_TYPES:
        raise InvalidInputError(f"{where}: expected a number, got {_kind(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise InvalidInputError(f"{where}: {clip(str(value), 40)} is not a finite number")
    return number


def _check_finite(array: NDArray, signature: Signature, allow_nan: bool = False) -> None:
    # JSON cannot carry NaN or Infinity; this guards arrays built any other way, and
    # numbers too big for a double (1e999 parses as inf).
    good = ~np.isinf(array) if allow_nan else np.isfinite(array)
    # The ufunc's reduce, not good.all(): the method goes through a Python wrapper that
    # cost more than the check itself on one-row requests.
    if np.logical_and.reduce(good, axis=None):
        return
    row, col = (int(i) for i in np.argwhere(~good)[0])
    names = signature.feature_names
    where = f"feature '{names[col]}'" if names else f"column {col}"
    raise InvalidInputError(f"row {row}, {where}: value is not a finite number")


def _finish_numeric(array: NDArray, signature: Signature) -> Batch:
    if signature.wants_frame:
        pandas = _pandas()
        if pandas is not None:
            return pandas.DataFrame(array, columns=list(signature.feature_names or ()))
    return array


def _frame(rows: list[list[Any]], signature: Signature) -> Batch:
    pandas = _pandas()
    if pandas is None:
        raise MissingDependencyError("pandas", "pandas")
    frame = pandas.DataFrame(rows, columns=list(signature.feature_names or ()))
    for feature in signature.features or ():
        if feature.type != "str":
            frame[feature.name] = frame[feature.name].astype("float64")
    return frame


# -- helpers -----------------------------------------------------------------------------


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        return None
    return pandas


def _require_nonempty_list(value: Any, what: str) -> None:
    if not isinstance(value, list):
        raise InvalidInputError(f"{what} must be a list of rows, got {_kind(value)}")
    if not value:
        raise InvalidInputError(f"{what} is empty: send at least one row")


def _require_names(signature: Signature) -> tuple[Feature, ...]:
    if signature.features is None:
        width = signature.n_features
        count = f"{width} numbers" if width is not None else "numbers"
        raise InvalidInputError(
            "this model has no feature names (add 'features:' to its model.yaml); "
            f'send each row as a list of {count}, e.g. {{"instances": [[...]]}}'
        )
    return signature.features


def _raise_key_mismatch(where: str, given: Any, names: list[str]) -> None:
    given_set = set(given)
    missing = [n for n in names if n not in given_set]
    unknown = sorted(str(k) for k in given_set - set(names))
    parts = []
    if missing:
        parts.append(f"missing feature(s) {missing}")
    if unknown:
        parts.append(f"unknown feature(s) {shown(unknown)}")
    raise InvalidInputError(f"{where}: {'; '.join(parts)}; the model takes {names}")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"string {shown(value, 40)}"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__
