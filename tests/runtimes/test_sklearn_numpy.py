"""Plain linear scikit-learn models answered by NumPy: the same answers as scikit-learn,
refusal of anything else, and no scikit-learn import on the way."""

from __future__ import annotations

import gzip
import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import Lasso, LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from modelport.runtimes import sklearn_numpy
from modelport.runtimes.base import LoadContext
from modelport.runtimes.sklearn import load
from modelport.runtimes.sklearn_numpy import (
    NumpyLinearClassifier,
    NumpyLinearRegressor,
    sklearn_version_verified,
    try_load,
)

IRIS = load_iris()
DIABETES = load_diabetes()
RNG = np.random.default_rng(7)


def _iris_rows(n: int) -> np.ndarray[Any, Any]:
    # Around and beyond the training data, so that every class and both signs of a
    # binary score occur.
    data: np.ndarray[Any, Any] = IRIS.data
    return data[RNG.integers(0, len(data), n)] + RNG.normal(0, 1.5, (n, 4))


def _binary() -> Any:
    return LogisticRegression(max_iter=1000).fit(IRIS.data, IRIS.target == 2)


def _string_labels() -> Any:
    return LogisticRegression(max_iter=1000).fit(IRIS.data, IRIS.target_names[IRIS.target])


def _named_features() -> Any:
    frame = pd.DataFrame(IRIS.data, columns=["sl", "sw", "pl", "pw"])
    return LogisticRegression(max_iter=1000).fit(frame, IRIS.target)


CLASSIFIERS: dict[str, Callable[[], Any]] = {
    "multinomial": lambda: LogisticRegression(max_iter=1000).fit(IRIS.data, IRIS.target),
    "binary": _binary,
    "string labels": _string_labels,
    "no intercept": lambda: LogisticRegression(fit_intercept=False, max_iter=1000).fit(
        IRIS.data, IRIS.target
    ),
    "liblinear binary": lambda: LogisticRegression(solver="liblinear").fit(
        IRIS.data, IRIS.target == 1
    ),
    "feature names": _named_features,
}
REGRESSORS: dict[str, Callable[[], Any]] = {
    "linear": lambda: LinearRegression().fit(DIABETES.data, DIABETES.target),
    "no intercept": lambda: LinearRegression(fit_intercept=False).fit(
        DIABETES.data, DIABETES.target
    ),
    "two outputs": lambda: LinearRegression().fit(
        DIABETES.data, np.c_[DIABETES.target, DIABETES.target * 0.5 + 3]
    ),
    "ridge": lambda: Ridge(alpha=0.5).fit(DIABETES.data, DIABETES.target),
}


def _dump_joblib(model: Any, path: Path) -> None:
    joblib.dump(model, path)


def _dump_compressed_joblib(model: Any, path: Path) -> None:
    joblib.dump(model, path, compress=3)


def _dump_pickle(model: Any, path: Path) -> None:
    path.write_bytes(pickle.dumps(model, protocol=5))


def _dump_gzip_pickle(model: Any, path: Path) -> None:
    with gzip.open(path, "wb") as handle:
        pickle.dump(model, handle, protocol=2)


DUMPS = {
    "model.joblib": _dump_joblib,
    "model.pkl.gz": _dump_compressed_joblib,
    "model.pkl": _dump_pickle,
    "model.pgz": _dump_gzip_pickle,
}


def _saved(model: Any, folder: Path, filename: str = "model.joblib") -> Path:
    path = folder / filename
    DUMPS[filename](model, path)
    return path


@pytest.mark.parametrize("filename", list(DUMPS))
@pytest.mark.parametrize("case", list(CLASSIFIERS))
def test_a_logistic_regression_answers_as_scikit_learn_does(
    case: str, filename: str, tmp_path: Path
) -> None:
    model = CLASSIFIERS[case]()
    numpy_model = try_load(_saved(model, tmp_path, filename))
    assert isinstance(numpy_model, NumpyLinearClassifier)
    rows = _iris_rows(500)
    if case == "feature names":
        rows = pd.DataFrame(rows, columns=list(model.feature_names_in_))
        assert list(numpy_model.feature_names_in_) == ["sl", "sw", "pl", "pw"]
    expected_labels = model.predict(rows)
    labels = numpy_model.predict(rows)
    assert labels.dtype == expected_labels.dtype
    np.testing.assert_array_equal(labels, expected_labels)
    assert len(set(labels.tolist())) >= 2  # the rows reach more than one class
    np.testing.assert_array_equal(numpy_model.classes_, model.classes_)
    assert numpy_model.n_features_in_ == model.n_features_in_
    # The same operations in the same order; only a binary model's logistic is NumPy's
    # exp instead of SciPy's expit, which may differ in the last bit.
    np.testing.assert_allclose(numpy_model.predict_proba(rows), model.predict_proba(rows), 1e-14)
    np.testing.assert_allclose(
        numpy_model.decision_function(rows), model.decision_function(rows), 1e-14
    )


def test_multinomial_probabilities_are_scikit_learns_to_the_bit(tmp_path: Path) -> None:
    model = CLASSIFIERS["multinomial"]()
    numpy_model = try_load(_saved(model, tmp_path))
    assert isinstance(numpy_model, NumpyLinearClassifier)
    rows = _iris_rows(1000)
    assert numpy_model.predict_proba(rows).tobytes() == model.predict_proba(rows).tobytes()


@pytest.mark.parametrize("case", list(REGRESSORS))
def test_a_linear_regression_answers_as_scikit_learn_does(case: str, tmp_path: Path) -> None:
    model = REGRESSORS[case]()
    numpy_model = try_load(_saved(model, tmp_path))
    assert isinstance(numpy_model, NumpyLinearRegressor)
    rows = DIABETES.data + RNG.normal(0, 0.05, DIABETES.data.shape)
    predicted = numpy_model.predict(rows)
    expected = model.predict(rows)
    assert predicted.shape == expected.shape
    assert predicted.tobytes() == expected.tobytes()  # X @ coef + intercept, as sklearn
    assert not hasattr(numpy_model, "predict_proba")


@pytest.mark.parametrize(
    ("dtype", "convert"),
    [("int64", lambda rows: rows.round().astype(np.int64)), ("float32", np.float32)],
)
def test_integer_and_float32_rows_are_taken_as_scikit_learn_takes_them(
    dtype: str, convert: Callable[[Any], Any], tmp_path: Path
) -> None:
    model = CLASSIFIERS["multinomial"]()
    numpy_model = try_load(_saved(model, tmp_path))
    assert isinstance(numpy_model, NumpyLinearClassifier)
    rows = convert(_iris_rows(200))
    assert rows.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(numpy_model.predict(rows), model.predict(rows))
    np.testing.assert_allclose(numpy_model.predict_proba(rows), model.predict_proba(rows), 1e-14)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([[1.0, 2.0, np.nan, 4.0]], "NaN or infinity"),
        ([[1.0, 2.0, np.inf, 4.0]], "NaN or infinity"),
        ([[1.0, 2.0, 3.0]], "X has 3 features, but LogisticRegression is expecting 4"),
        ([1.0, 2.0, 3.0, 4.0], "Expected a 2D array"),
        ([["a", "b", "c", "d"]], "could not convert string to float"),
    ],
)
def test_rows_scikit_learn_would_refuse_raise_value_error(
    rows: Any, message: str, tmp_path: Path
) -> None:
    # ValueError is what the inference layer turns into a 422 "the model rejected the input".
    numpy_model = try_load(_saved(CLASSIFIERS["multinomial"](), tmp_path))
    assert numpy_model is not None
    with pytest.raises(ValueError, match=message):
        numpy_model.predict(np.asarray(rows, dtype=object))


REFUSED: dict[str, Callable[[], Any]] = {
    "pipeline": lambda: make_pipeline(StandardScaler(), LogisticRegression()).fit(
        IRIS.data, IRIS.target
    ),
    "tree": lambda: DecisionTreeClassifier(max_depth=2).fit(IRIS.data, IRIS.target),
    "lasso": lambda: Lasso(alpha=0.1).fit(DIABETES.data, DIABETES.target),  # not listed
    "unfitted": LogisticRegression,  # no coef_
    "dict": lambda: {"model": CLASSIFIERS["multinomial"]()},  # not an estimator
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_anything_else_is_left_to_scikit_learn(case: str, tmp_path: Path) -> None:
    assert try_load(_saved(REFUSED[case](), tmp_path)) is None


@pytest.mark.parametrize("damage", ["truncated", "not a pickle", "empty"])
def test_a_damaged_file_is_left_to_the_full_unpickle_to_report(damage: str, tmp_path: Path) -> None:
    path = _saved(CLASSIFIERS["multinomial"](), tmp_path)
    data = path.read_bytes()
    path.write_bytes(
        {"truncated": data[: len(data) // 2], "not a pickle": b"hello", "empty": b""}[damage]
    )
    assert try_load(path) is None


class Tripwire:
    """Records that it was built: a global the restricted unpickler must never call."""

    built: ClassVar[list[str]] = []

    def __init__(self, note: str) -> None:
        Tripwire.built.append(note)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Tripwire, ("unpickled",))


def test_a_refused_global_is_never_called(tmp_path: Path) -> None:
    # A LogisticRegression whose state also holds some other object: the restricted
    # unpickler must refuse that object's class, not construct it.
    model = CLASSIFIERS["multinomial"]()
    model.extra_ = Tripwire("saved")
    Tripwire.built.clear()
    path = _saved(model, tmp_path, "model.pkl")
    assert try_load(path) is None
    assert Tripwire.built == []


def test_the_runtime_serves_numpy_only_where_model_yaml_allows_it(tmp_path: Path) -> None:
    path = _saved(CLASSIFIERS["multinomial"](), tmp_path)
    assert isinstance(load(path)._model, NumpyLinearClassifier)
    assert isinstance(load(path, LoadContext(numpy_linear=False))._model, LogisticRegression)
    # Code files of its own: imported and unpickled in full, as the owner expects.
    code = tmp_path / "model.py"
    code.write_text("IMPORTED = True\n")
    assert isinstance(load(path, LoadContext(code_files=(code,)))._model, LogisticRegression)


def test_the_runtime_reports_the_same_hints_either_way(tmp_path: Path) -> None:
    path = _saved(_named_features(), tmp_path)
    numpy_runtime = load(path)
    full_runtime = load(path, LoadContext(numpy_linear=False))
    assert isinstance(numpy_runtime._model, NumpyLinearClassifier)
    assert numpy_runtime.hints == full_runtime.hints
    assert numpy_runtime.hints.has_proba
    regressor = _saved(REGRESSORS["linear"](), tmp_path, "model.pkl")
    assert load(regressor).hints == load(regressor, LoadContext(numpy_linear=False)).hints


def test_loading_and_predicting_import_neither_scikit_learn_nor_scipy(tmp_path: Path) -> None:
    path = _saved(CLASSIFIERS["string labels"](), tmp_path)
    script = (
        "import sys, numpy as np\n"
        "from modelport.runtimes.sklearn import load\n"
        f"runtime = load(__import__('pathlib').Path({str(path)!r}))\n"
        "print(runtime.predict(np.array([[5.1, 3.5, 1.4, 0.2]]))[0])\n"
        "print(sorted(m for m in ('sklearn', 'scipy') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split("\n")[:2] == ["setosa", "[]"]


def test_the_version_gate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sklearn_numpy, "installed_sklearn", lambda: "1.8.2")
    assert not sklearn_version_verified("1.9.1")  # the installed version decides
    monkeypatch.setattr(sklearn_numpy, "installed_sklearn", lambda: "1.9.0rc1")
    assert sklearn_version_verified("1.4.2")
    monkeypatch.setattr(sklearn_numpy, "installed_sklearn", lambda: None)
    assert sklearn_version_verified("1.9.1")  # not installed: the version that saved it
    assert not sklearn_version_verified("1.10.0")
    assert not sklearn_version_verified(None)


def test_an_unverified_scikit_learn_gets_the_full_unpickle(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = _saved(CLASSIFIERS["multinomial"](), tmp_path)
    monkeypatch.setattr(sklearn_numpy, "installed_sklearn", lambda: "1.8.2")
    assert try_load(path) is None
    assert isinstance(load(path)._model, LogisticRegression)


def test_the_installed_scikit_learn_is_verified() -> None:
    # When this fails, a new scikit-learn was installed: run this file's comparisons
    # against it, check its linear models' predict code, then widen VERIFIED_VERSIONS.
    assert sklearn_version_verified(None), sklearn_numpy.installed_sklearn()
