"""outputs.run_model with real scikit-learn models: labels, probabilities, row counts."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression, RidgeClassifier
from sklearn.multioutput import MultiOutputClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from modelport.errors import ModelportError
from modelport.inputs import to_batch
from modelport.outputs import run_model
from modelport.payloads import Records, Rows
from modelport.runtimes import sklearn as sklearn_runtime
from modelport.runtimes.sklearn import SklearnRuntime
from modelport.signature import Feature, ModelHints, build_signature
from modelport.types import NDArray

NAMES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
SPECIES = ["setosa", "versicolor", "virginica"]
# One clear example of each species.
SAMPLES = [[5.1, 3.5, 1.4, 0.2], [6.4, 3.2, 4.5, 1.5], [7.7, 3.0, 6.1, 2.3]]


@pytest.fixture(scope="module")
def iris() -> tuple[NDArray, NDArray]:
    data, target = load_iris(return_X_y=True)
    return data, target


@pytest.fixture(scope="module")
def classifier(iris: tuple[NDArray, NDArray]) -> Any:
    return LogisticRegression(max_iter=1000).fit(*iris)


def assert_probabilities(table: list[dict[str, float]] | None, labels: list[str]) -> None:
    assert table is not None
    for row in table:
        assert list(row) == labels
        assert all(isinstance(p, float) and 0.0 <= p <= 1.0 for p in row.values())
        assert math.isclose(sum(row.values()), 1.0, rel_tol=1e-9)


def test_classifier_predictions_are_labels_with_probabilities(classifier: Any) -> None:
    runtime = SklearnRuntime(classifier)
    signature = build_signature(runtime.hints, [Feature(n) for n in NAMES], SPECIES)
    batch = to_batch(Rows(SAMPLES), signature)
    outputs = run_model(runtime, signature, batch, rows=3, probabilities=True)
    assert outputs.predictions == SPECIES
    assert_probabilities(outputs.probabilities, SPECIES)
    assert outputs.probabilities is not None
    # The most probable label is the predicted one.
    assert [max(row, key=row.__getitem__) for row in outputs.probabilities] == SPECIES
    expected = classifier.predict_proba(np.array(SAMPLES))
    got = [[row[label] for label in SPECIES] for row in outputs.probabilities]
    np.testing.assert_allclose(got, expected)


def test_probabilities_are_left_out_unless_asked(classifier: Any) -> None:
    runtime = SklearnRuntime(classifier)
    signature = build_signature(runtime.hints, declared_labels=SPECIES)
    batch = to_batch(Rows(SAMPLES), signature)
    outputs = run_model(runtime, signature, batch, rows=3, probabilities=False)
    assert outputs.predictions == SPECIES
    assert outputs.probabilities is None


def test_without_declared_labels_predictions_keep_class_values(classifier: Any) -> None:
    runtime = SklearnRuntime(classifier)
    signature = build_signature(runtime.hints)
    batch = to_batch(Rows(SAMPLES), signature)
    outputs = run_model(runtime, signature, batch, rows=3, probabilities=True)
    assert outputs.predictions == [0, 1, 2]
    assert all(type(p) is int for p in outputs.predictions)
    assert_probabilities(outputs.probabilities, ["0", "1", "2"])


def test_model_fitted_on_a_dataframe_gets_one(iris: tuple[NDArray, NDArray]) -> None:
    data, target = iris
    frame = pd.DataFrame(data, columns=NAMES)
    model = LogisticRegression(max_iter=1000).fit(frame, np.array(SPECIES)[target.astype(int)])
    runtime = SklearnRuntime(model)
    signature = build_signature(runtime.hints)
    assert signature.wants_frame
    records = [dict(zip(NAMES[::-1], row[::-1], strict=True)) for row in SAMPLES]
    batch = to_batch(Records(records), signature)
    assert isinstance(batch, pd.DataFrame)
    # Warnings are errors: an array here would fail with "X does not have valid feature names".
    outputs = run_model(runtime, signature, batch, rows=3, probabilities=True)
    assert outputs.predictions == SPECIES
    assert outputs.predictions == model.predict(pd.DataFrame(SAMPLES, columns=NAMES)).tolist()
    assert_probabilities(outputs.probabilities, SPECIES)


def test_string_features_reach_a_pipeline_as_a_dataframe() -> None:
    frame = pd.DataFrame(
        {
            "color": ["red", "blue", "green", "red", "blue", "green"] * 5,
            "size": np.arange(30.0),
        }
    )
    target = (frame["color"] == "red").map({True: "warm", False: "cold"})
    encode = ColumnTransformer(
        [("color", OneHotEncoder(handle_unknown="ignore"), ["color"])], remainder="passthrough"
    )
    model = make_pipeline(encode, LogisticRegression(max_iter=1000)).fit(frame, target)
    runtime = SklearnRuntime(model)
    signature = build_signature(
        runtime.hints,
        [Feature("color", "str"), Feature("size")],
        {"cold": "Cold", "warm": "Warm"},
    )
    batch = to_batch(
        Records([{"color": "red", "size": 3}, {"size": 4, "color": "blue"}]), signature
    )
    outputs = run_model(runtime, signature, batch, rows=2, probabilities=True)
    assert outputs.predictions == ["Warm", "Cold"]
    assert_probabilities(outputs.probabilities, ["Cold", "Warm"])


def test_regressor_predictions_are_plain_floats(iris: tuple[NDArray, NDArray]) -> None:
    data, _ = iris
    model = LinearRegression().fit(data[:, :3], data[:, 3])
    runtime = SklearnRuntime(model)
    signature = build_signature(runtime.hints, [Feature(n) for n in NAMES[:3]])
    assert signature.classes is None
    assert not signature.has_proba
    rows = [row[:3] for row in SAMPLES]
    outputs = run_model(
        runtime, signature, to_batch(Rows(rows), signature), rows=3, probabilities=True
    )
    assert outputs.probabilities is None
    assert all(type(p) is float for p in outputs.predictions)
    np.testing.assert_allclose(outputs.predictions, model.predict(np.array(rows)))


def test_multi_output_regressor_rows_come_back_as_lists(iris: tuple[NDArray, NDArray]) -> None:
    data, _ = iris
    model = LinearRegression().fit(data[:, :2], data[:, 2:])
    runtime = SklearnRuntime(model)
    signature = build_signature(runtime.hints)
    rows = [row[:2] for row in SAMPLES]
    outputs = run_model(
        runtime, signature, to_batch(Rows(rows), signature), rows=3, probabilities=True
    )
    assert outputs.probabilities is None
    assert len(outputs.predictions) == 3
    assert all(len(p) == 2 for p in outputs.predictions)
    np.testing.assert_allclose(outputs.predictions, model.predict(np.array(rows)))


def test_classifier_without_predict_proba_gives_labels_only(
    iris: tuple[NDArray, NDArray],
) -> None:
    model = RidgeClassifier().fit(*iris)
    runtime = SklearnRuntime(model)
    signature = build_signature(runtime.hints, declared_labels=SPECIES)
    assert not signature.has_proba
    batch = to_batch(Rows(SAMPLES), signature)
    outputs = run_model(runtime, signature, batch, rows=3, probabilities=True)
    expected = [SPECIES[int(c)] for c in model.predict(np.array(SAMPLES))]
    assert outputs.predictions == expected
    assert outputs.probabilities is None


class TooFewPredictions:
    """A model with a scikit-learn-like predict that drops the last row."""

    def predict(self, batch: NDArray) -> NDArray:
        return np.zeros(len(batch) - 1)


def test_wrong_prediction_count_is_an_internal_error() -> None:
    runtime = SklearnRuntime(TooFewPredictions())
    signature = build_signature(runtime.hints)
    batch = to_batch(Rows([[1.0, 2.0], [3.0, 4.0]]), signature)
    with pytest.raises(
        ModelportError, match=r"the model returned 1 predictions for 2 row\(s\)"
    ) as e:
        run_model(runtime, signature, batch, rows=2, probabilities=False)
    assert type(e.value) is ModelportError
    assert e.value.status_code == 500


@pytest.mark.parametrize("name", ["iris-lr", "iris-dt"])
def test_example_models_answer_with_species(trained_models: Path, name: str) -> None:
    config = yaml.safe_load((trained_models / name / "model.yaml").read_text())
    runtime = sklearn_runtime.load(trained_models / name / "1" / "model.joblib")
    signature = build_signature(
        runtime.hints, [Feature(n) for n in config["features"]], config["labels"]
    )
    batch = to_batch(Records([dict(zip(NAMES, row, strict=True)) for row in SAMPLES]), signature)
    outputs = run_model(runtime, signature, batch, rows=3, probabilities=True)
    assert outputs.predictions == SPECIES
    assert_probabilities(outputs.probabilities, SPECIES)


@pytest.mark.parametrize("second", ["three-classes", "two-classes"])
def test_multi_output_classifier_rows_come_back_as_lists(
    iris: tuple[NDArray, NDArray], second: str
) -> None:
    data, target = iris
    other = (target + 1) % (3 if second == "three-classes" else 2)
    model = MultiOutputClassifier(LogisticRegression(max_iter=1000)).fit(
        data, np.column_stack([target, other])
    )
    runtime = SklearnRuntime(model)
    signature = build_signature(runtime.hints)
    outputs = run_model(
        runtime, signature, to_batch(Rows(SAMPLES), signature), rows=3, probabilities=True
    )
    assert outputs.predictions == model.predict(np.array(SAMPLES)).tolist()
    # Probabilities, when given, must be one {label: float} per row.
    for row in outputs.probabilities or []:
        assert all(isinstance(p, float) for p in row.values())


def test_sklearn_runtime_hints_of_a_classifier_fitted_on_arrays(classifier: Any) -> None:
    assert SklearnRuntime(classifier).hints == ModelHints(
        feature_names=None, n_features=4, classes=(0, 1, 2), has_proba=True
    )
