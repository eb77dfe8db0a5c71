"""The careful path of input validation, one value at a time so that a message can
point at the row and feature at fault, and the checks every path shares (finite
numbers, the batch's final form, the messages' wording of what was sent)."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from modelport.errors import (
    InvalidInputError,
    InvalidRequestError,
    MissingDependencyError,
    clip,
    shown,
)
from modelport.signature import Feature, Signature
from modelport.types import Batch, NDArray

__all__ = [
    "NUMBER_TYPES",
    "build_rows",
    "check_finite",
    "check_value",
    "finish_numeric",
    "frame",
    "kind_of",
    "raise_key_mismatch",
    "require_names",
    "require_nonempty_list",
    "row_values",
]

#: The Python types of a plain JSON number.
NUMBER_TYPES = frozenset({int, float})


def row_values(index: int, row: Any, width: int | None) -> Sequence[Any]:
    if not isinstance(row, list):
        raise InvalidInputError(
            f"row {index}: expected a list of values, got {kind_of(row)} "
            "(wrap a single row in another list: [[...]])"
        )
    if width is not None and len(row) != width:
        raise InvalidInputError(
            f"row {index} has {len(row)} values but the model takes {width} features"
        )
    return row


def build_rows(rows: list[Any], signature: Signature, width: int | None) -> Batch:
    features = signature.features
    checked: list[list[Any]] = []
    for index, row in enumerate(rows):
        values = row_values(index, row, width)
        checked.append(
            [
                check_value(value, index, j, features[j] if features else None, signature)
                for j, value in enumerate(values)
            ]
        )
    if signature.all_numeric:
        return finish_numeric(np.array(checked, dtype=np.float64), signature)
    return frame(checked, signature)


def check_value(
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
        raise InvalidInputError(f"{where}: expected a string, got {kind_of(value)}")
    if kind == "bool":
        if isinstance(value, bool) or (type(value) is int and value in (0, 1)):
            return float(value)
        raise InvalidInputError(f"{where}: expected true or false, got {kind_of(value)}")
    return _number(value, where, signature.coerce)


def _number(value: Any, where: str, coerce: bool) -> float:
    if type(value) not in NUMBER_TYPES:
        if not isinstance(value, str):
            raise InvalidInputError(f"{where}: expected a number, got {kind_of(value)}")
        value = _number_in_text(value, where, coerce)
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise InvalidInputError(f"{where}: {clip(str(value), 40)} is not a finite number")
    return number


def _number_in_text(text: str, where: str, coerce: bool) -> float:
    """A number sent as a string: taken when model.yaml says ``coerce: true``; refused
    otherwise, saying how to send it or let it through."""
    try:
        number = float(text.strip()) if len(text) <= 100 else None
    except ValueError:
        number = None
    if coerce:
        if number is None:
            raise InvalidInputError(f"{where}: {shown(text, 40)} is not a number")
        return number
    hint = (
        f" (send {text.strip()} without quotes, or set 'coerce: true' in model.yaml to take "
        "numbers sent as strings)"
        if number is not None and math.isfinite(number)
        else ""
    )
    raise InvalidInputError(f"{where}: expected a number, got {kind_of(text)}{hint}")


def check_finite(array: NDArray, signature: Signature, allow_nan: bool = False) -> None:
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


def finish_numeric(array: NDArray, signature: Signature) -> Batch:
    if signature.wants_frame:
        pandas = _pandas()
        if pandas is not None:
            return pandas.DataFrame(array, columns=_columns(signature.feature_names or ()))
    return array


def frame(rows: list[list[Any]], signature: Signature) -> Batch:
    pandas = _pandas()
    if pandas is None:
        raise MissingDependencyError("pandas", "pandas")
    frame = pandas.DataFrame(rows, columns=_columns(signature.feature_names or ()))
    for feature in signature.features or ():
        if feature.type != "str":
            frame[feature.name] = frame[feature.name].astype("float64")
    return frame


# -- helpers -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _columns(names: tuple[str, ...]) -> Any:
    """The column index for these feature names, built once: pandas makes an index of
    strings into an Arrow array, which was most of the 0.1 ms a one-row DataFrame took.
    An index is immutable, so every frame of the model may share it."""
    import pandas  # only called once pandas has made a DataFrame

    return pandas.Index(list(names))


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        return None
    return pandas


def require_nonempty_list(value: Any, what: str) -> None:
    if not isinstance(value, list):
        raise InvalidRequestError(f"{what} must be a list of rows, got {kind_of(value)}")
    if not value:
        raise InvalidInputError(f"{what} is empty: send at least one row")


def require_names(signature: Signature) -> tuple[Feature, ...]:
    if signature.features is None:
        width = signature.n_features
        count = f"{width} numbers" if width is not None else "numbers"
        raise InvalidInputError(
            "this model has no feature names (add 'features:' to its model.yaml); "
            f'send each row as a list of {count}, e.g. {{"instances": [[...]]}}'
        )
    return signature.features


def raise_key_mismatch(where: str, given: Any, names: list[str]) -> None:
    given_set = set(given)
    missing = [n for n in names if n not in given_set]
    unknown = sorted(str(k) for k in given_set - set(names))
    parts = []
    if missing:
        parts.append(f"missing feature(s) {missing}")
    if unknown:
        parts.append(f"unknown feature(s) {shown(unknown)}")
    raise InvalidInputError(f"{where}: {'; '.join(parts)}; the model takes {names}")


def kind_of(value: Any) -> str:
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
