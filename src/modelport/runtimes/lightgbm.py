"""LightGBM's native text model (``Booster.save_model``), served with ``runtime: lightgbm``.

The text format has no ending of its own (``model.txt`` by habit), so model.yaml must
name the runtime. Its header says the objective (``binary``, ``multiclass`` -> classes
with probabilities; anything else answers raw values) and the feature names.
Pickled ``LGBMClassifier`` objects go through the scikit-learn runtime instead.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from modelport.errors import ModelLoadError
from modelport.runtimes.base import LoadContext, require
from modelport.signature import ModelHints
from modelport.types import Batch, NDArray

__all__ = ["LightGBMRuntime", "load"]

#: LightGBM names unnamed columns Column_0, Column_1, ...: those are no names at all.
_DEFAULT_NAME = re.compile(r"^Column_\d+$")


class LightGBMRuntime:
    """A native LightGBM Booster."""

    kind = "lightgbm"

    def __init__(self, booster: Any, objective: str, n_classes: int) -> None:
        self._booster = booster
        self._objective = objective
        names = [str(n) for n in booster.feature_name()]
        named = bool(names) and not all(_DEFAULT_NAME.match(n) for n in names)
        classes: tuple[int, ...] | None = None
        if objective == "binary":
            classes = (0, 1)
        elif objective in ("multiclass", "multiclassova"):
            classes = tuple(range(n_classes))
        self._hints = ModelHints(
            feature_names=tuple(names) if named else None,
            n_features=int(booster.num_feature()),
            classes=classes,
            has_proba=classes is not None,
            takes_missing=True,  # trees send a missing value down its learned branch
        )

    @property
    def hints(self) -> ModelHints:
        return self._hints

    def _raw(self, batch: Batch) -> NDArray:
        return np.asarray(self._booster.predict(batch))

    def predict(self, batch: Batch) -> NDArray:
        raw = self._raw(batch)
        if self._objective == "binary":
            return (raw > 0.5).astype(np.int64)
        if self._hints.classes is not None:
            return np.asarray(raw.argmax(axis=1))
        return raw

    def predict_proba(self, batch: Batch) -> NDArray:
        raw = self._raw(batch)
        if self._objective == "binary":
            return np.column_stack([1.0 - raw, raw])
        return raw


def load(artifact: Path, context: LoadContext | None = None) -> LightGBMRuntime:
    """Read a LightGBM text model."""
    lgb = require("lightgbm", "lightgbm")
    header = _header(artifact)
    if not header.get("version", "").startswith("v") or "objective" not in header:
        raise ModelLoadError(
            f"'{artifact.name}' is not a LightGBM text model (saved with Booster.save_model)"
        )
    _check_trees(artifact, header)
    try:
        booster = lgb.Booster(model_file=str(artifact))
    except Exception as exc:  # LightGBMError for damaged files
        raise ModelLoadError(
            f"'{artifact.name}' is not a readable LightGBM model: {type(exc).__name__}: {exc}"
        ) from exc
    objective = header["objective"].split()[0]
    return LightGBMRuntime(booster, objective, int(header.get("num_class", "1")))


def _header(artifact: Path) -> dict[str, str]:
    """The ``key=value`` lines before the first tree (cheap: no need to parse the trees)."""
    found: dict[str, str] = {}
    try:
        with artifact.open(encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle):
                if line.startswith("Tree=") or number > 200:
                    break
                key, sep, value = line.strip().partition("=")
                if sep:
                    found[key] = value
    except OSError as exc:
        raise ModelLoadError(f"cannot read '{artifact.name}': {exc}") from exc
    return found


def _check_trees(artifact: Path, header: dict[str, str]) -> None:
    """Refuse a truncated or damaged file here: LightGBM trusts the ``tree_sizes`` header
    and aborts or crashes the whole process on a file shorter than it says."""
    try:
        data = artifact.read_bytes()
    except OSError as exc:
        raise ModelLoadError(f"cannot read '{artifact.name}': {exc}") from exc
    problem = None
    start = data.find(b"\nTree=0\n") + 1
    try:
        sizes = [int(size) for size in header.get("tree_sizes", "").split()]
    except ValueError:
        sizes = []
    if not start or not sizes:
        problem = "it has no trees (or no tree_sizes line)"
    else:
        position = start
        for index, size in enumerate(sizes):
            if not data.startswith(b"Tree=%d\n" % index, position):
                problem = f"tree {index} is not where tree_sizes says"
                break
            position += size
        if problem is None and not data[position:].lstrip().startswith(b"end of trees"):
            problem = "it is cut short (no 'end of trees' after the trees)"
        parameters = data.find(b"\nparameters:\n", position)
        if problem is None and parameters >= 0 and b"\nend of parameters" not in data[parameters:]:
            problem = "it is cut short (no 'end of parameters')"
    if problem is not None:
        raise ModelLoadError(f"'{artifact.name}' is not a complete LightGBM model: {problem}")
