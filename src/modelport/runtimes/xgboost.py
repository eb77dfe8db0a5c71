"""XGBoost's native model files: ``.ubj`` (UBJSON), and ``.json`` with ``runtime: xgboost``.

The native format is XGBoost's portable one (pickles break across XGBoost versions). It
holds a Booster; what kind of model it is comes from the saved objective:
``multi:softprob`` / ``binary:logistic`` are classifiers with probabilities, anything
else answers its raw values. Pickled ``XGBClassifier`` objects go through the
scikit-learn runtime instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from modelport.errors import ModelLoadError
from modelport.runtimes.base import LoadContext, require
from modelport.runtimes.ubjson import UBJSONError, check_ubjson
from modelport.signature import ModelHints
from modelport.types import Batch, FeatureType, NDArray

__all__ = ["XGBoostRuntime", "load"]

#: Objectives whose predict() is a probability per class (or of class 1).
_PROBABILITY_OBJECTIVES = ("multi:softprob", "binary:logistic")
#: Objectives whose predict() is already a class index.
_LABEL_OBJECTIVES = ("multi:softmax", "binary:hinge")
_TYPES: dict[str, FeatureType] = {"int": "int", "i": "bool", "q": "float", "float": "float"}


class XGBoostRuntime:
    """A native XGBoost Booster."""

    kind = "xgboost"

    def __init__(self, xgb: Any, booster: Any, objective: str, n_classes: int) -> None:
        self._xgb = xgb
        self._booster = booster
        self._objective = objective
        self._names: list[str] | None = booster.feature_names
        classes: tuple[int, ...] | None = None
        if objective.startswith("binary:") and objective != "binary:logitraw":
            classes = (0, 1)
        elif objective.startswith("multi:"):
            classes = tuple(range(n_classes))
        types = booster.feature_types
        self._hints = ModelHints(
            feature_names=tuple(self._names) if self._names else None,
            feature_types=tuple(_TYPES.get(t, "float") for t in types)
            if self._names and types
            else None,
            n_features=int(booster.num_features()),
            classes=classes,
            has_proba=objective in _PROBABILITY_OBJECTIVES,
            takes_missing=True,  # trees send a missing value down its learned branch
        )

    @property
    def hints(self) -> ModelHints:
        return self._hints

    def _raw(self, batch: Batch) -> NDArray:
        # A plain array carries no names; the booster checks names when it has them.
        names = None if hasattr(batch, "columns") else self._names
        matrix = self._xgb.DMatrix(batch, feature_names=names)
        return np.asarray(self._booster.predict(matrix))

    def predict(self, batch: Batch) -> NDArray:
        raw = self._raw(batch)
        if self._objective == "multi:softprob":
            return np.asarray(raw.argmax(axis=1))
        if self._objective == "binary:logistic":
            return (raw > 0.5).astype(np.int64)
        if self._objective in _LABEL_OBJECTIVES:
            return raw.astype(np.int64)
        return raw

    def predict_proba(self, batch: Batch) -> NDArray:
        raw = self._raw(batch)
        if self._objective == "binary:logistic":
            return np.column_stack([1.0 - raw, raw])
        return raw


def load(artifact: Path, context: LoadContext | None = None) -> XGBoostRuntime:
    """Read a native XGBoost model file into a Booster."""
    xgb = require("xgboost", "xgboost")
    _check_file(artifact)
    booster = xgb.Booster()
    try:
        booster.load_model(str(artifact))
        config = json.loads(booster.save_config())
        learner = config["learner"]
        objective = str(learner["objective"]["name"])
        n_classes = int(learner["learner_model_param"].get("num_class", 0))
    except Exception as exc:  # XGBoostError for damaged files, KeyError for odd configs
        raise ModelLoadError(
            f"'{artifact.name}' is not a readable XGBoost model: {type(exc).__name__}: "
            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        ) from exc
    return XGBoostRuntime(xgb, booster, objective, n_classes)


def _check_file(artifact: Path) -> None:
    """Refuse a damaged file here: XGBoost's own reader can crash the process on one."""
    try:
        data = artifact.read_bytes()
    except OSError as exc:
        raise ModelLoadError(f"cannot read '{artifact.name}': {exc}") from exc
    problem = None
    # JSON's first key is quoted; UBJSON's starts with a length marker (L, i, U...).
    if data.lstrip()[:1] == b"{" and data.lstrip()[1:].lstrip()[:1] in (b'"', b"}"):
        try:
            json.loads(data)
        except ValueError as exc:
            problem = f"broken JSON: {exc}"
    elif data[:1] == b"{":
        try:
            check_ubjson(data)
        except UBJSONError as exc:
            problem = f"broken UBJSON: {exc}"
    else:
        problem = "neither XGBoost's JSON nor its UBJSON format (save_model to .ubj or .json)"
    if problem is not None:
        raise ModelLoadError(f"'{artifact.name}' is not a readable XGBoost model: {problem}")
