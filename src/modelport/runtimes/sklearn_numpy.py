"""Plain linear scikit-learn models answered by NumPy alone, without importing scikit-learn.

Why: unpickling a LogisticRegression imports scikit-learn, which imports SciPy. That is
about 0.9 s and 90 MB of a server's start and memory, for a model whose prediction is one
matrix product. Here a restricted unpickler reads the artifact instead. It resolves only
NumPy's array globals and the estimators in ``_ESTIMATORS``; any other global (a Pipeline,
a scaler, a custom class) makes it give up, and the scikit-learn runtime unpickles the file
as before. A refusal happens before any object is built from that global, so this path
never runs code from the file that the full unpickle would not have run too.

The arithmetic is scikit-learn's own, step for step (``LinearClassifierMixin.
decision_function`` / ``predict``, ``LogisticRegression.predict_proba``, ``LinearModel.
_decision_function``); tests hold it to scikit-learn's answers on the installed version.
It is used only where that arithmetic is the one scikit-learn itself would run: the
installed scikit-learn is one of ``VERIFIED_VERSIONS`` or, where scikit-learn is not
installed, the artifact was saved by one of them. Labels are identical; probabilities
may differ from scikit-learn's in the last bit of a binary model's (NumPy's ``exp``
against SciPy's ``expit``).
"""

from __future__ import annotations

import logging
import re
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from modelport.types import Batch, NDArray

__all__ = [
    "VERIFIED_VERSIONS",
    "NumpyLinearClassifier",
    "NumpyLinearModel",
    "NumpyLinearRegressor",
    "sklearn_version_verified",
    "try_load",
]

log = logging.getLogger(__name__)

#: scikit-learn (major, minor) versions whose linear-model arithmetic this module repeats.
#: Widen only after the tests pass against the new version (tests/runtimes/
#: test_sklearn_numpy.py compares every estimator here with scikit-learn's own answers).
VERIFIED_VERSIONS: frozenset[tuple[int, int]] = frozenset({(1, 9)})


class _Refused(Exception):
    """The artifact holds something this module does not answer for."""


def _parse_version(text: str) -> tuple[int, int] | None:
    match = re.match(r"(\d+)\.(\d+)", text)
    return (int(match[1]), int(match[2])) if match else None


def installed_sklearn() -> str | None:
    # The distribution's metadata, not `import sklearn`: importing it is what we avoid.
    try:
        return metadata.version("scikit-learn")
    except metadata.PackageNotFoundError:
        return None


def sklearn_version_verified(saved_by: str | None) -> bool:
    """Whether scikit-learn would run our arithmetic for a model saved by ``saved_by``."""
    installed = installed_sklearn()
    # Installed: it decides the arithmetic, whoever saved the model (scikit-learn warns
    # about a version mismatch but computes with its own code). Not installed: the
    # version that saved it is the only one the model's owner can have checked.
    version = installed if installed is not None else saved_by
    return version is not None and _parse_version(version) in VERIFIED_VERSIONS


class NumpyLinearModel:
    """Rebuilt from a pickled estimator's state: coefficients and what describes the input."""

    #: The scikit-learn class this stands for, for messages.
    estimator = ""
    coef_: NDArray
    intercept_: NDArray | float
    n_features_in_: int
    sklearn_version: str | None

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise _Refused(f"unexpected {self.estimator} state {type(state).__name__}")
        coef = state.get("coef_")
        intercept = state.get("intercept_")
        n_features = state.get("n_features_in_")
        if not isinstance(coef, np.ndarray) or coef.dtype.kind != "f" or coef.ndim not in (1, 2):
            raise _Refused(f"{self.estimator} without a dense float coef_ (not fitted?)")
        if not isinstance(n_features, int) or n_features != coef.shape[-1]:
            raise _Refused(f"{self.estimator} whose n_features_in_ does not match coef_")
        if not (
            isinstance(intercept, float)
            or (isinstance(intercept, np.ndarray) and intercept.dtype.kind == "f")
        ):
            raise _Refused(f"{self.estimator} with an intercept_ of {type(intercept).__name__}")
        self.coef_ = coef
        self.intercept_ = intercept
        self.n_features_in_ = n_features
        names = state.get("feature_names_in_")
        if names is not None:
            if not isinstance(names, np.ndarray) or names.shape != (n_features,):
                raise _Refused(f"{self.estimator} with unexpected feature_names_in_")
            self.feature_names_in_ = names
        version = state.get("_sklearn_version")
        self.sklearn_version = version if isinstance(version, str) else None
        self._check_state(state)

    def _check_state(self, state: dict[str, Any]) -> None:
        """Subclasses check what else they need."""

    def predict(self, batch: Batch) -> NDArray:
        raise NotImplementedError

    def _rows(self, batch: Batch) -> NDArray:
        # scikit-learn's check_array(dtype="numeric"): numbers keep their dtype, anything
        # else becomes float64; 2-D, the fitted width, and finite values only.
        rows = np.asarray(batch)
        if rows.dtype.kind not in "biuf":
            rows = rows.astype(np.float64)
        if rows.ndim != 2:
            raise ValueError(f"Expected a 2D array of rows, got {rows.ndim}D")
        if rows.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {rows.shape[1]} features, but {self.estimator} is expecting "
                f"{self.n_features_in_} features as input."
            )
        if rows.dtype.kind == "f" and not np.isfinite(rows).all():
            raise ValueError(f"Input X contains NaN or infinity; {self.estimator} takes neither.")
        return rows


class NumpyLinearClassifier(NumpyLinearModel):
    """scikit-learn's LogisticRegression, answered with NumPy."""

    estimator = "LogisticRegression"
    classes_: NDArray

    def _check_state(self, state: dict[str, Any]) -> None:
        classes = state.get("classes_")
        if not isinstance(classes, np.ndarray) or classes.ndim != 1 or classes.size < 2:
            raise _Refused("LogisticRegression without one classes_ array")
        rows_of_coef = 1 if classes.size == 2 else classes.size
        if self.coef_.ndim != 2 or self.coef_.shape[0] != rows_of_coef:
            raise _Refused("LogisticRegression whose coef_ does not match its classes_")
        self.classes_ = classes

    def decision_function(self, batch: Batch) -> NDArray:
        scores: NDArray = self._rows(batch) @ self.coef_.T + self.intercept_
        return scores.reshape(-1) if scores.shape[1] == 1 else scores

    def predict(self, batch: Batch) -> NDArray:
        scores = self.decision_function(batch)
        indices = (scores > 0).astype(np.intp) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_.take(indices, axis=0)

    def predict_proba(self, batch: Batch) -> NDArray:
        scores = self.decision_function(batch)
        if scores.ndim == 1:
            # Binary: the logistic of the one score, as scikit-learn's _predict_proba_lr.
            positive = 1.0 / (1.0 + np.exp(-scores))
            return np.stack([1 - positive, positive], axis=1)
        # Multinomial: softmax, in the order extmath.softmax does it.
        scores -= scores.max(axis=1).reshape(-1, 1)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1).reshape(-1, 1)
        return scores


class NumpyLinearRegressor(NumpyLinearModel):
    """scikit-learn's LinearRegression and Ridge, answered with NumPy."""

    estimator = "LinearRegression"

    def predict(self, batch: Batch) -> NDArray:
        rows = self._rows(batch)
        if self.coef_.ndim == 1:
            return rows @ self.coef_ + self.intercept_
        return rows @ self.coef_.T + self.intercept_


class _Ridge(NumpyLinearRegressor):
    estimator = "Ridge"


#: Pickled global -> what stands in for it. Only estimators whose whole prediction is the
#: arithmetic above, whatever their other settings (penalty, solver...) were in training.
_ESTIMATORS: dict[tuple[str, str], type[NumpyLinearModel]] = {
    ("sklearn.linear_model._logistic", "LogisticRegression"): NumpyLinearClassifier,
    ("sklearn.linear_model._base", "LinearRegression"): NumpyLinearRegressor,
    ("sklearn.linear_model._ridge", "Ridge"): _Ridge,
}

#: Globals a pickle of NumPy arrays needs (joblib's wrapper; numpy 1.x and 2.x names).
_ARRAY_GLOBALS = frozenset(
    {
        ("joblib.numpy_pickle", "NumpyArrayWrapper"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),  # bytes in a protocol-2 pickle
    }
)


def try_load(artifact: Path) -> NumpyLinearModel | None:
    """The model in ``artifact`` answered with NumPy, or None to unpickle it in full."""
    try:
        from joblib import numpy_pickle
    except ImportError:
        return None
    try:
        model = _restricted_load(artifact, numpy_pickle)
    except _Refused as exc:
        log.debug("'%s' is not served with NumPy alone: %s", artifact.name, exc)
        return None
    except Exception as exc:  # noqa: BLE001
        # A damaged or foreign file: the full unpickle reports it in its own words.
        log.debug("'%s' did not read as a plain linear model: %r", artifact.name, exc)
        return None
    if not isinstance(model, NumpyLinearModel):
        return None
    if not sklearn_version_verified(model.sklearn_version):
        log.debug("'%s': this scikit-learn version is not verified for NumPy", artifact.name)
        return None
    log.info(
        "'%s' is a %s: answered with NumPy, scikit-learn not imported",
        artifact.name,
        model.estimator,
    )
    return model


def _restricted_load(artifact: Path, numpy_pickle: Any) -> Any:
    class RestrictedUnpickler(numpy_pickle.NumpyUnpickler):  # type: ignore[misc]
        def find_class(self, module: str, name: str) -> Any:
            stand_in = _ESTIMATORS.get((module, name))
            if stand_in is not None:
                return stand_in
            if (module, name) in _ARRAY_GLOBALS:
                return super().find_class(module, name)
            raise _Refused(f"it needs {module}.{name}")

    # joblib.load, with the unpickler swapped: the same file formats (joblib's own,
    # compressed or not, and plain or gzip-compressed pickles).
    path = str(artifact)
    with (
        open(path, "rb") as handle,
        numpy_pickle._validate_fileobject_and_memmap(handle, path, None) as (stream, mmap),
    ):
        if isinstance(stream, str):  # joblib < 0.10's multi-file format
            raise _Refused("an old joblib format")
        return RestrictedUnpickler(path, stream, True, mmap_mode=mmap).load()
