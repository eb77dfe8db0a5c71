"""scikit-learn and anything with a scikit-learn-like ``predict`` (joblib or pickle files).

Unpickling runs code from the file: only serve artifacts from a trusted model folder.
Custom classes a pickle needs (a Pipeline's own transformer) come from the version
folder's ``model.py`` or model.yaml ``code:`` files, imported first (see ``code.py``).
"""

from __future__ import annotations

import gzip
import logging
import pickle
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from modelport.errors import MissingDependencyError, ModelLoadError
from modelport.runtimes import sklearn_numpy
from modelport.runtimes.base import LoadContext, missing_dependency
from modelport.runtimes.code import import_code_files, unpickle_with_code
from modelport.signature import ModelHints
from modelport.types import Batch, NDArray

__all__ = ["SklearnRuntime", "load"]

_GZIP_MAGIC = b"\x1f\x8b"

log = logging.getLogger(__name__)


class SklearnRuntime:
    """Wraps an object with ``predict`` (and optionally ``predict_proba``)."""

    def __init__(self, model: Any, kind: str = "sklearn", warnings: tuple[str, ...] = ()) -> None:
        self.kind = kind
        if not callable(getattr(model, "predict", None)):
            raise ModelLoadError(
                f"the artifact holds a {type(model).__module__}.{type(model).__qualname__}, "
                "which has no predict() method"
            )
        self._model = model
        self._hints = _hints_of(model, warnings)

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
    so that its code is imported as the owner expects. A pickle saved by another
    scikit-learn version loads with a warning in its metadata, or fails naming both.
    """
    context = context or LoadContext()
    if context.numpy_linear and not context.code_files:
        linear = sklearn_numpy.try_load(artifact)
        if linear is not None:
            saved = linear.sklearn_version
            note = _version_note(linear.estimator, saved, sklearn_numpy.installed_sklearn())
            return SklearnRuntime(linear, warnings=() if note is None else (note,))
    modules = import_code_files(context.code_files)
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = unpickle_with_code(lambda: _unpickle(artifact), modules)
    except ModelLoadError:
        raise
    except ModuleNotFoundError as exc:
        raise _with_versions(missing_dependency(exc), artifact, caught) from exc
    except AttributeError as exc:
        if "__main__" not in str(exc):
            raise _with_versions(_unreadable(artifact, exc), artifact, caught) from exc
        # A class defined in a notebook or script is pickled as __main__.X.
        raise ModelLoadError(
            f"'{artifact.name}' needs a class that was defined in the training script "
            f"({exc}); put its code in model.py beside the artifact"
        ) from exc
    except Exception as exc:
        raise _with_versions(_unreadable(artifact, exc), artifact, caught) from exc
    return SklearnRuntime(model, warnings=_version_notes(caught))


def _version_notes(caught: list[warnings.WarningMessage]) -> tuple[str, ...]:
    """scikit-learn's version-mismatch warnings as one note per saving version, naming
    the estimators; other warnings go to the log as they would have."""
    by_version: dict[tuple[str, str], list[str]] = {}
    for message in caught:
        warning = message.message
        saved = getattr(warning, "original_sklearn_version", None)
        installed = getattr(warning, "current_sklearn_version", None)
        if isinstance(saved, str) and isinstance(installed, str):
            names = by_version.setdefault((saved, installed), [])
            name = str(getattr(warning, "estimator_name", "the model"))
            if name not in names:
                names.append(name)
        else:
            log.warning("while loading: %s", warning)
    notes = (_version_note(", ".join(names), *key) for key, names in by_version.items())
    return tuple(note for note in notes if note is not None)


def _version_note(estimators: str, saved: str | None, installed: str | None) -> str | None:
    if saved is None or installed is None or saved == installed:
        return None
    return (
        f"{estimators} saved with scikit-learn {saved} and served with {installed}: "
        f"answers may differ; re-save it with scikit-learn {installed}, or serve it where "
        f"scikit-learn {saved} is installed"
    )


#: Where a pickle keeps the scikit-learn version that saved an estimator: the state key,
#: then (protocol 2+) a short string holding the version.
_SAVED_VERSION = re.compile(
    rb"_sklearn_version.{0,6}?(\d+\.\d+(?:\.\d+)?(?:(?:rc|a|b|dev|post)\d*)?)", re.DOTALL
)


def _with_versions(
    error: ModelLoadError | MissingDependencyError,
    artifact: Path,
    caught: list[warnings.WarningMessage],
) -> ModelLoadError | MissingDependencyError:
    """``error``, naming the scikit-learn version the pickle was saved with when it is not
    the one installed: the usual reason a pickle no longer loads."""
    notes = _version_notes(caught)
    if not notes:
        saved = _saved_version(artifact)
        note = _version_note("the model", saved, sklearn_numpy.installed_sklearn())
        notes = () if note is None else (note,)
    if not notes or not isinstance(error, ModelLoadError):
        return error
    return ModelLoadError(f"{error.message}; {notes[0]}")


def _saved_version(artifact: Path) -> str | None:
    """The scikit-learn version recorded in an uncompressed pickle, read as bytes (the
    file is not unpickled again)."""
    try:
        with artifact.open("rb") as handle:
            data = handle.read(64 * 1024 * 1024)
    except OSError:
        return None
    match = _SAVED_VERSION.search(data)
    return match[1].decode("ascii", "replace") if match else None


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


def _hints_of(model: Any, warnings: tuple[str, ...] = ()) -> ModelHints:
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
        takes_missing=_takes_missing(model),
        warnings=warnings,
    )


#: Estimators built to learn from missing values (a tree that merely tolerates NaN, or a
#: pipeline, keeps refusing null unless model.yaml says ``allow_missing: true``).
_LEARNS_MISSING = ("sklearn.ensemble._hist_gradient_boosting.", "xgboost.", "lightgbm.")


def _takes_missing(model: Any) -> bool:
    """Whether the estimator handles NaN itself (HistGradientBoosting, XGBoost's and
    LightGBM's scikit-learn wrappers, as scikit-learn's tags confirm); False when unsure."""
    if not type(model).__module__.startswith(_LEARNS_MISSING):
        return False
    try:
        from sklearn.utils import get_tags

        return bool(get_tags(model).input_tags.allow_nan)
    except Exception:  # noqa: BLE001  an old scikit-learn or an odd estimator: no
        return False


def _safe_attr(model: Any, name: str) -> Any:
    # Pipelines and meta-estimators compute some attributes and may raise on access.
    try:
        return getattr(model, name, None)
    except Exception:  # noqa: BLE001
        return None
