"""The scikit-learn runtime: every file format it reads, and what it says about a model."""

from __future__ import annotations

import gzip
import pickle
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from modelport.errors import ModelLoadError
from modelport.runtimes.base import runtime_for
from modelport.runtimes.sklearn import SklearnRuntime, load
from modelport.signature import ModelHints

IRIS = load_iris()
X: np.ndarray[Any, Any] = IRIS.data
Y: np.ndarray[Any, Any] = IRIS.target
#: Protocol-0 pickle of a global from a module nobody has: ``GLOBAL 'acme_missing_pkg Model'``.
MISSING_MODULE_PICKLE = b"cacme_missing_pkg\nModel\n."


@pytest.fixture(scope="module")
def tree() -> Any:
    return DecisionTreeClassifier(random_state=0, max_depth=3).fit(X, Y)


def dump_joblib(model: Any, path: Path) -> None:
    joblib.dump(model, path)


def dump_pickle(model: Any, path: Path) -> None:
    with path.open("wb") as handle:
        pickle.dump(model, handle)


def dump_gzip_pickle(model: Any, path: Path) -> None:
    with gzip.open(path, "wb") as handle:
        pickle.dump(model, handle)


def dump_compressed_joblib(model: Any, path: Path) -> None:
    joblib.dump(model, path, compress=("gzip", 3))


@pytest.mark.parametrize(
    ("filename", "dump"),
    [
        ("model.joblib", dump_joblib),
        ("model.joblib", dump_compressed_joblib),
        ("model.pkl", dump_pickle),
        ("model.pickle", dump_pickle),
        ("lr_iris.model", dump_pickle),
        ("model.pgz", dump_gzip_pickle),
        ("model.pkl.gz", dump_gzip_pickle),
        ("model.pkl", dump_joblib),
        ("model.pkl", dump_gzip_pickle),
    ],
)
def test_loads_every_format(
    tmp_path: Path, tree: Any, filename: str, dump: Callable[[Any, Path], None]
) -> None:
    artifact = tmp_path / filename
    dump(tree, artifact)

    runtime = load(artifact)

    assert isinstance(runtime, SklearnRuntime)
    assert runtime.kind == "sklearn"
    np.testing.assert_array_equal(runtime.predict(X[:10]), tree.predict(X[:10]))


def test_gzip_pickle_through_the_runtime_spec(tmp_path: Path, tree: Any) -> None:
    artifact = tmp_path / "model.pgz"
    dump_gzip_pickle(tree, artifact)

    runtime = runtime_for(artifact).load(artifact)

    assert runtime.kind == "sklearn"
    assert runtime.predict(X[:3]).tolist() == tree.predict(X[:3]).tolist()


def test_joblib_dump_named_pkl_gz_loads(tmp_path: Path, tree: Any) -> None:
    artifact = tmp_path / "model.pkl.gz"
    joblib.dump(tree, artifact)  # joblib compresses with gzip because of the ending

    runtime = load(artifact)

    np.testing.assert_array_equal(runtime.predict(X[:10]), tree.predict(X[:10]))


def test_predict_and_predict_proba(tmp_path: Path) -> None:
    model = LogisticRegression(max_iter=1000).fit(X, Y)
    dump_joblib(model, tmp_path / "model.joblib")

    runtime = load(tmp_path / "model.joblib")
    predictions = runtime.predict(X[:5])
    probabilities = runtime.predict_proba(X[:5])

    assert isinstance(predictions, np.ndarray)
    assert predictions.tolist() == model.predict(X[:5]).tolist()
    assert probabilities.shape == (5, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)


def test_predict_returns_an_array_even_for_a_list(tmp_path: Path) -> None:
    dump_pickle(ListPredictor(), tmp_path / "model.pkl")

    result = load(tmp_path / "model.pkl").predict(np.zeros((3, 2)))

    assert isinstance(result, np.ndarray)
    assert result.tolist() == [7, 7, 7]


class ListPredictor:
    """A duck-typed model: predict() returns a plain list and nothing else is known."""

    def predict(self, batch: Any) -> list[int]:
        return [7] * len(batch)


# -- hints ------------------------------------------------------------------------------


def test_hints_of_a_classifier_fitted_on_arrays(tmp_path: Path, tree: Any) -> None:
    dump_joblib(tree, tmp_path / "model.joblib")

    hints = load(tmp_path / "model.joblib").hints

    assert hints == ModelHints(feature_names=None, n_features=4, classes=(0, 1, 2), has_proba=True)
    assert all(type(c) is int for c in hints.classes or ())


def test_hints_of_a_model_fitted_on_a_dataframe(tmp_path: Path) -> None:
    frame = pd.DataFrame(X, columns=["sepal_length", "sepal_width", "petal_length", "petal_width"])
    labels = np.array(IRIS.target_names)[Y]
    model = LogisticRegression(max_iter=1000).fit(frame, labels)
    dump_joblib(model, tmp_path / "model.joblib")

    runtime = load(tmp_path / "model.joblib")

    assert runtime.hints.feature_names == (
        "sepal_length",
        "sepal_width",
        "petal_length",
        "petal_width",
    )
    assert all(type(name) is str for name in runtime.hints.feature_names or ())
    assert runtime.hints.n_features == 4
    assert runtime.hints.classes == ("setosa", "versicolor", "virginica")
    assert runtime.hints.has_proba is True
    assert runtime.predict(frame.head(1)).tolist() == ["setosa"]


def test_hints_of_a_regressor(tmp_path: Path) -> None:
    model = LinearRegression().fit(X[:, :3], X[:, 3])
    dump_joblib(model, tmp_path / "model.joblib")

    hints = load(tmp_path / "model.joblib").hints

    assert hints.has_proba is False
    assert hints.classes is None
    assert hints.n_features == 3
    assert hints.feature_names is None


def test_hints_of_a_pipeline(tmp_path: Path) -> None:
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, Y)
    dump_joblib(model, tmp_path / "model.joblib")

    hints = load(tmp_path / "model.joblib").hints

    assert hints.n_features == 4
    assert hints.classes == (0, 1, 2)
    assert hints.has_proba is True


def test_svc_without_probability_has_no_proba(tmp_path: Path) -> None:
    # SVC hides predict_proba (it raises AttributeError) unless fitted for probabilities.
    model = SVC().fit(X, Y)
    dump_joblib(model, tmp_path / "model.joblib")

    hints = load(tmp_path / "model.joblib").hints

    assert hints.has_proba is False
    assert hints.classes == (0, 1, 2)


def test_hints_of_a_duck_typed_model(tmp_path: Path) -> None:
    dump_pickle(ListPredictor(), tmp_path / "model.pkl")

    assert load(tmp_path / "model.pkl").hints == ModelHints()


# -- failures ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "type_name"),
    [
        ({"weights": [1, 2]}, "builtins.dict"),
        ([1, 2, 3], "builtins.list"),
        (np.zeros(3), "numpy.ndarray"),
    ],
)
def test_object_without_predict(tmp_path: Path, obj: Any, type_name: str) -> None:
    dump_joblib(obj, tmp_path / "model.joblib")

    with pytest.raises(ModelLoadError) as info:
        load(tmp_path / "model.joblib")

    assert f"holds a {type_name}, which has no predict() method" in info.value.message


def test_wrapping_an_object_without_predict_directly() -> None:
    with pytest.raises(ModelLoadError, match=r"builtins\.str"):
        SklearnRuntime("not a model")


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("model.pkl", b""),
        ("model.joblib", b"hello world, not a model\n"),
        ("model.pgz", b"\x1f\x8b not really gzip"),
        ("model.pkl.gz", gzip.compress(b"not a pickle inside", mtime=0)),
    ],
)
def test_unreadable_file(tmp_path: Path, filename: str, data: bytes) -> None:
    (tmp_path / filename).write_bytes(data)

    with pytest.raises(ModelLoadError, match=f"'{filename}' is not a readable pickle/joblib file"):
        load(tmp_path / filename)


def test_truncated_pickle(tmp_path: Path, tree: Any) -> None:
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(tree)[:64])

    with pytest.raises(ModelLoadError, match="not a readable pickle/joblib file"):
        load(tmp_path / "model.pkl")


@pytest.mark.parametrize("filename", ["model.pkl", "model.joblib"])
def test_pickle_needing_a_missing_module(tmp_path: Path, filename: str) -> None:
    (tmp_path / filename).write_bytes(MISSING_MODULE_PICKLE)

    with pytest.raises(ModelLoadError) as info:
        load(tmp_path / filename)

    assert type(info.value) is ModelLoadError
    assert "'acme_missing_pkg'" in info.value.message
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_random_bytes(tmp_path: Path) -> None:
    (tmp_path / "model.joblib").write_bytes(random.Random(0).randbytes(512))

    with pytest.raises(
        ModelLoadError, match=r"'model\.joblib' is not a readable pickle/joblib file"
    ):
        load(tmp_path / "model.joblib")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="FileNotFoundError"):
        load(tmp_path / "model.joblib")
