"""Python function models: a version folder holding ``model.py`` with ``predict(...)``.

``predict``'s named parameters are the features, in order, typed by their annotations
(``int``, ``float``, ``bool``, ``str``; unannotated means ``float``). It is called once
per row with keyword arguments; a missing value (allowed by ``allow_missing``) arrives
as ``None``. Whatever it returns (a number, a string, a dict, a list) is the row's
prediction. To refuse an input, raise ``modelport.errors.InvalidInputError``; a
``ValueError``, ``TypeError``, ``KeyError`` or ``ArithmeticError`` (division by zero)
is reported the same way, as a 422 naming the row, never as a server error.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from modelport.errors import InvalidInputError, ModelLoadError, ModelportError
from modelport.runtimes.base import LoadContext
from modelport.runtimes.code import import_code_file, import_code_files
from modelport.signature import ModelHints
from modelport.types import Batch, FeatureType, NDArray

__all__ = ["FunctionRuntime", "load"]

_ANNOTATIONS: dict[Any, FeatureType] = {
    int: "int",
    float: "float",
    bool: "bool",
    str: "str",
    "int": "int",
    "float": "float",
    "bool": "bool",
    "str": "str",
}
#: Errors from the function that mean "these values are not acceptable".
_REFUSALS = (ValueError, TypeError, KeyError, ArithmeticError)
_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


class FunctionRuntime:
    """Calls a plain Python ``predict(**features)`` once per row."""

    kind = "function"

    def __init__(self, predict: Callable[..., Any], file_name: str) -> None:
        self._predict = predict
        self._file = file_name
        try:
            parameters = inspect.signature(predict).parameters.values()
        except (TypeError, ValueError) as exc:
            raise ModelLoadError(f"{file_name}: cannot read predict()'s parameters: {exc}") from exc
        named = [p for p in parameters if p.kind in _NAMED]
        if not named:
            raise ModelLoadError(
                f"{file_name}: predict() takes no named parameters; its parameters are the "
                "model's features, e.g. def predict(a: float, b: float) -> float"
            )
        self._names = tuple(p.name for p in named)
        self._types = tuple(_ANNOTATIONS.get(p.annotation, "float") for p in named)
        self._hints = ModelHints(
            feature_names=self._names, feature_types=self._types, n_features=len(named)
        )

    @property
    def hints(self) -> ModelHints:
        return self._hints

    def predict(self, batch: Batch) -> NDArray:
        rows = _rows(batch, self._names)
        answers = np.empty(len(rows), dtype=object)
        for index, row in enumerate(rows):
            arguments = {
                name: _convert(value, kind, index, name)
                for name, kind, value in zip(self._names, self._types, row, strict=True)
            }
            try:
                answers[index] = _plain(self._predict(**arguments))
            except ModelportError:
                raise
            except _REFUSALS as exc:
                raise InvalidInputError(
                    f"row {index}: the model refused the input: {type(exc).__name__}: {exc}"
                ) from exc
        return answers

    def predict_proba(self, batch: Batch) -> NDArray:
        raise ModelportError("a function model has no probabilities")


def load(artifact: Path, context: LoadContext | None = None) -> FunctionRuntime:
    """Import ``model.py`` (after any model.yaml ``code:`` files) and take its predict()."""
    if artifact.suffix.lower() != ".py":
        raise ModelLoadError(
            f"runtime 'function' loads model.py; this version's artifact is '{artifact.name}'"
        )
    others = [p for p in (context.code_files if context else ()) if p != artifact]
    modules = import_code_files([*others, artifact]) if others else [import_code_file(artifact)]
    predict = getattr(modules[-1], "predict", None)
    if not callable(predict):
        raise ModelLoadError(
            f"{artifact.name} defines no predict() function; a function model is "
            "def predict(<feature>: <type>, ...) -> <answer>"
        )
    return FunctionRuntime(predict, artifact.name)


def _rows(batch: Batch, names: tuple[str, ...]) -> list[list[Any]]:
    if hasattr(batch, "columns"):
        columns = [batch[name].tolist() for name in names]
        return [list(values) for values in zip(*columns, strict=True)]
    rows: list[list[Any]] = np.asarray(batch, dtype=object).tolist()
    return rows


def _convert(value: Any, kind: FeatureType, row: int, name: str) -> Any:
    """A batch value as the type the function declared; NaN (missing) becomes None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if kind == "str":
        return str(value)
    if kind == "bool":
        return bool(value)
    number = float(value)
    if kind == "int":
        if not number.is_integer():
            raise InvalidInputError(f"row {row}, feature '{name}': expected a whole number")
        return int(number)
    return number


def _plain(value: Any) -> Any:
    """NumPy values in an answer -> plain Python, so any JSON encoder takes them."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
