"""scikit-learn and anything with a scikit-learn-like ``predict`` (joblib or pickle files).

Unpickling runs code from the file: only serve artifacts from a trusted model folder.
Custom classes a pickle needs (a Pipeline's own transformer) come from the version
folder's ``model.py`` or model.yaml ``code:`` files, imported first (see ``code.py``).
"""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from modelport.errors import ModelLoadError
from modelport.runtimes import sklearn_numpy
from modelport.runtimes.base import LoadContext, missing_dependency
from modelport.runtimes.code import import_code_files, unpickle_with_code
from modelport.signature import ModelHints
from modelport.types import Batch, NDArray

__all__ = ["SklearnRuntime", "load"]

_GZIP_MAGIC = b"\x1f\x8b"


class SklearnRuntime:
    """Wraps an object with ``predict`` (and optionally ``predict_proba``)."""

    def __init__(self, model: Any, kind: str = "sklearn") -> None:
        self.kind = kind
        if not callable(getattr(model, "predict", None)):
            raise ModelLoadError(
                f"the artifact holds a {type(model).__module__}.{type(model).__qualname__}, "
                "which has no predict() method"
            )
        self._model = model
        self._hints = _hints_of(model)

    @property
    def hints(self) -> ModelHints:
        return self._hints

    def predict(self, batch: Batch) -> NDArray:
        return np.asarray(self._model.predict(batch))

    def predict_proba(self, batch: Batch) -> NDArray:
        return np.asarray(self._model.predict_proba(batch))


def load(artifact: Path, context: LoadContext | None = None) -> SklearnRuntime:
    """Unpickle ``artifact`` (joblib, pickle, or gzip-compressed pickle).

    A plain linear model is answered with NumPy alone when model.yaml allows it (see
    ``sklearn_numpy``); a model with code files of its own is always unpickled in full,
    so that its code is imported as the owner expects.
    """
    context = context or LoadContext()
    if context.numpy_linear and not context.code_files:
        linear = sklearn_numpy.try_load(artifact)
        if linear is not None:
            return SklearnRuntime(linear)
    modules = import_code_files(context.code_files)
    try:
        model = unpickle_with_code(lambda: _unpickle(artifact), modules)
    except ModelLoadError:
        raise
    except ModuleNotFoundError as exc:
        raise missing_dependency(exc) from exc
    except AttributeError as exc:
        if "__main__" not in str(exc):
            raise _unreadable(artifact, exc) from exc
        # A class defined in a notebook or script is pickled as __main__.X.
        raise ModelLoadError(
            f"'{artifact.name}' needs a class that was defined in the training script "
            f"({exc}); put its code in model.py beside the artifact"
        ) from exc
    except Exception as exc:
        raise _unreadable(artifact, exc) from exc
    return SklearnRuntime(model)


def _unreadable(artifact: Path, exc: Exception) -> ModelLoadError:
    # A damaged or foreign file can fail with almost any exception while unpickling.
    return ModelLoadError(
        f"'{artifact.name}' is not a readable pickle/joblib file: {type(exc).__name__}: {exc}"
    )


def _unpickle(artifact: Path) -> Any:
    try:
        import joblib
    except ImportError:
        with artifact.open("rb") as handle:
            compressed = handle.read(2) == _GZIP_MAGIC
        with (gzip.open if compressed else open)(artifact, "rb") as handle:
            return pickle.load(handle)  # noqa: S301  a pickle is the model; see allow_pickle_uploads
    # joblib reads its own format (plain or compressed, e.g. joblib.dump to 'x.pkl.gz')
    # and plain pickles, gzip-compressed ones (examples/flask-iris's .pgz) included.
    return joblib.load(artifact)


def _hints_of(model: Any) -> ModelHints:
    names = getattr(model, "feature_names_in_", None)
    n_features = getattr(model, "n_features_in_", None)
    classes = _safe_attr(model, "classes_")
    # Multi-output classifiers have one classes_ array per output: no single label set,
    # and predict_proba returns a list of tables, so neither is offered for them.
    single_output = classes is not None and all(np.ndim(c) == 0 for c in classes)
    return ModelHints(
        feature_names=tuple(str(n) for n in names) if names is not None else None,
        n_features=int(n_features) if n_features is not None else None,
        classes=tuple(np.asarray(classes).tolist()) if single_output else None,
        has_proba=single_output and callable(_safe_attr(model, "predict_proba")),
    )


def _safe_attr(model: Any, name: str) -> Any:
    # Pipelines and meta-estimators compute some attributes and may raise on access.
    try:
        return getattr(model, name, None)
    except Exception:  # noqa: BLE001
        return None
