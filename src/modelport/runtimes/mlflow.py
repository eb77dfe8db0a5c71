"""MLflow model folders (an ``MLmodel`` file): modelport's own runtimes where they can,
``mlflow.pyfunc`` for the rest.

The scikit-learn, XGBoost and LightGBM flavors are read by the sklearn/skops, xgboost and
lightgbm runtimes, without MLflow installed (repository/mlmodel.py picks the file and the
runtime). Any other flavor, a custom ``mlflow.pyfunc.PythonModel`` included, is loaded
by ``mlflow.pyfunc.load_model`` from the ``mlflow`` extra: it unpickles and imports the
model's own code, so serve only MLflow folders you trust.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from modelport.errors import ModelLoadError, ModelportError
from modelport.repository.mlmodel import MlflowModel, read_mlmodel
from modelport.runtimes.base import LoadContext, Runtime, missing_dependency, require, runtime_for
from modelport.signature import ModelHints
from modelport.types import Batch, NDArray

__all__ = ["PyfuncRuntime", "load"]


class PyfuncRuntime:
    """A model loaded by ``mlflow.pyfunc.load_model``; it answers a DataFrame."""

    kind = "mlflow"

    def __init__(self, model: Any, pandas: Any, mlmodel: MlflowModel) -> None:
        self._model = model
        self._pandas = pandas
        features = mlmodel.features
        self._names = [f.name for f in features] if features is not None else None
        self._hints = (
            ModelHints(
                feature_names=tuple(f.name for f in features),
                feature_types=tuple(f.type for f in features),
                n_features=len(features),
            )
            if features is not None
            else ModelHints()
        )

    @property
    def hints(self) -> ModelHints:
        return self._hints

    def predict(self, batch: Batch) -> NDArray:
        if self._names is not None and not hasattr(batch, "columns"):
            batch = self._pandas.DataFrame(batch, columns=self._names)
        return _as_array(self._model.predict(batch))

    def predict_proba(self, batch: Batch) -> NDArray:
        # hints.has_proba is False: the server never asks.
        raise ModelLoadError("an mlflow.pyfunc model answers predictions only")


def load(artifact: Path, context: LoadContext | None = None) -> Runtime:
    """Load the MLflow model whose ``MLmodel`` file is ``artifact``."""
    mlmodel = read_mlmodel(artifact)
    if mlmodel.runtime is not None and mlmodel.artifact is not None:
        # The loader already merged the MLmodel's trusted skops types into the context.
        return runtime_for(mlmodel.artifact, mlmodel.runtime).load(mlmodel.artifact, context)
    pyfunc = require("mlflow.pyfunc", "mlflow")
    pandas = require("pandas", "pandas")
    try:
        model = pyfunc.load_model(str(mlmodel.folder))
    except ModelportError:
        raise
    except ModuleNotFoundError as exc:
        raise missing_dependency(exc) from exc
    except Exception as exc:  # the model's own code may raise anything while loading
        raise ModelLoadError(
            f"mlflow.pyfunc could not load the {mlmodel.flavor} model: {type(exc).__name__}: {exc}"
        ) from exc
    return PyfuncRuntime(model, pandas, mlmodel)


def _as_array(result: Any) -> NDArray:
    """A pyfunc's answer as one prediction per input row; a DataFrame's rows become
    ``{column: value}`` objects, as MLflow's own scoring server answers them."""
    to_dict = getattr(result, "to_dict", None)
    if hasattr(result, "columns") and callable(to_dict):
        records = to_dict(orient="records")
        rows = np.empty(len(records), dtype=object)
        rows[:] = records
        return rows
    to_numpy = getattr(result, "to_numpy", None)
    return np.asarray(to_numpy() if callable(to_numpy) else result)
